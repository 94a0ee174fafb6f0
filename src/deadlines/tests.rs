//! Deadline tests: the worked examples, table-driven cases across holidays, transfers and
//! time zones, and property tests of the counting convention.

use chrono::NaiveDate;
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

const POLICIES: &str = include_str!("../../config/policies.toml");

fn calendar() -> Calendar {
    Calendar::from_toml_strs([
        include_str!("../../config/calendar/ru-2025.toml"),
        include_str!("../../config/calendar/ru-2026.toml"),
        include_str!("../../config/calendar/ru-2027.toml"),
    ])
    .unwrap()
}

fn policies() -> Policies {
    Policies::from_toml_str(POLICIES).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn query(
    kind: IntentKind,
    ct: CustomerType,
    appeal: AppealVariant,
    event: NaiveDate,
    tz: Tz,
) -> DeadlineQuery<'static> {
    DeadlineQuery {
        kind,
        customer_type: ct,
        account_number: None,
        event: EventMoment::Date(event),
        tz,
        region: None,
        appeal,
    }
}

use AppealVariant::{AnsweringMachineAddress, AnsweringMachinePhone, Written, WrittenExtended};
use CustomerType::{Individual, LegalEntity};
use IntentKind::{AppealReply, DebtWarning, MeterVisit, PlannedOutage, TariffChange};

#[test]
fn the_worked_examples_come_out_exactly() {
    let (cal, pol) = (calendar(), policies());
    let run = |kind, ct, event, tz| {
        compute(&cal, &pol, kind, ct, None, EventMoment::Date(event), tz).unwrap()
    };
    let outage = run(
        PlannedOutage,
        Individual,
        d(2026, 1, 13),
        chrono_tz::Europe::Moscow,
    );
    assert_eq!(outage.deadline.to_rfc3339(), "2025-12-17T23:59:59+03:00");
    let works = run(
        PlannedOutage,
        LegalEntity,
        d(2026, 12, 15),
        chrono_tz::Europe::Samara,
    );
    assert_eq!(works.deadline.to_rfc3339(), "2026-11-14T23:59:59+04:00");
    let appeal = run(
        AppealReply,
        Individual,
        d(2026, 12, 20),
        chrono_tz::Asia::Yekaterinburg,
    );
    assert_eq!(appeal.deadline.to_rfc3339(), "2027-01-04T23:59:59+05:00");
}

#[test]
fn deadlines_across_holidays_transfers_and_time_zones() {
    use chrono_tz::{Asia, Europe};
    let (cal, pol) = (calendar(), policies());
    #[rustfmt::skip]
    let cases = [
        // New Year: 31 Dec 2025 and 1–11 Jan 2026 do not count.
        (PlannedOutage, Individual, Written, d(2026, 1, 13), Europe::Moscow, "2025-12-17T23:59:59+03:00"),
        // May holidays 2025 with the transfers to 2 and 8 May.
        (PlannedOutage, Individual, Written, d(2025, 5, 13), Europe::Kaliningrad, "2025-04-22T23:59:59+02:00"),
        // Working Saturday 1 Nov 2025 counts; 3 and 4 Nov do not.
        (DebtWarning, LegalEntity, Written, d(2025, 11, 10), Asia::Novosibirsk, "2025-10-23T23:59:59+07:00"),
        // Working Saturday 20 Feb 2027 counts; 22 and 23 Feb do not.
        (PlannedOutage, Individual, Written, d(2027, 3, 1), Asia::Kamchatka, "2027-02-11T23:59:59+12:00"),
        // 12 Jun 2025 and the transferred 13 Jun.
        (AppealReply, Individual, AnsweringMachinePhone, d(2025, 6, 10), Asia::Vladivostok, "2025-06-19T23:59:59+10:00"),
        (AppealReply, LegalEntity, AnsweringMachineAddress, d(2025, 12, 25), Europe::Moscow, "2026-02-03T23:59:59+03:00"),
        // Calendar-day rules count holidays like any other day.
        (MeterVisit, Individual, Written, d(2026, 1, 13), Asia::Omsk, "2026-01-02T23:59:59+06:00"),
        (MeterVisit, LegalEntity, Written, d(2025, 5, 12), Europe::Samara, "2025-05-01T23:59:59+04:00"),
        (DebtWarning, Individual, Written, d(2026, 3, 25), Asia::Krasnoyarsk, "2026-03-04T23:59:59+07:00"),
        (TariffChange, Individual, Written, d(2027, 1, 1), Asia::Irkutsk, "2026-12-01T23:59:59+08:00"),
        (TariffChange, LegalEntity, Written, d(2026, 3, 1), Asia::Yakutsk, "2026-01-29T23:59:59+09:00"),
        // Appeals: 15 days, 30 with the extension, no shift off the holiday by default.
        (AppealReply, Individual, Written, d(2025, 12, 31), Asia::Magadan, "2026-01-15T23:59:59+11:00"),
        (AppealReply, LegalEntity, WrittenExtended, d(2026, 12, 20), Asia::Yakutsk, "2027-01-19T23:59:59+09:00"),
        (AppealReply, Individual, Written, d(2026, 12, 20), Asia::Srednekolymsk, "2027-01-04T23:59:59+11:00"),
        // Months clamp to the month's end.
        (PlannedOutage, LegalEntity, Written, d(2027, 3, 1), Europe::Volgograd, "2027-01-31T23:59:59+03:00"),
        (PlannedOutage, LegalEntity, Written, d(2026, 3, 30), Asia::Srednekolymsk, "2026-02-28T23:59:59+11:00"),
        (PlannedOutage, LegalEntity, Written, d(2026, 1, 1), Europe::Moscow, "2025-11-30T23:59:59+03:00"),
    ];
    for (kind, ct, appeal, event, tz, expected) in cases {
        let got = compute_query(&cal, &pol, &query(kind, ct, appeal, event, tz)).unwrap();
        assert_eq!(
            got.deadline.to_rfc3339(),
            expected,
            "{kind:?} {ct:?} {appeal:?} {event}"
        );
        assert_eq!(got.deadline_utc, got.deadline.with_timezone(&Utc));
    }
}

#[test]
fn the_explanation_lists_the_days_counted_and_skipped() {
    let q = query(
        PlannedOutage,
        Individual,
        Written,
        d(2026, 1, 13),
        chrono_tz::Europe::Moscow,
    );
    let got = compute_query(&calendar(), &policies(), &q).unwrap();
    let ex = &got.explain;
    assert_eq!(ex.counted_days.len(), 10);
    assert_eq!(
        (ex.counted_days[0], ex.counted_days[9]),
        (d(2025, 12, 18), d(2026, 1, 12))
    );
    let skipped: Vec<_> = ex.skipped.iter().map(|s| s.date).collect();
    assert!(skipped.contains(&d(2025, 12, 31)) && skipped.contains(&d(2026, 1, 9)));
    assert_eq!(skipped.len(), 16);
    assert_eq!(ex.calendar_sources.len(), 2);
    assert!(got.rule.description.contains("Standard section 7"));
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["deadline"], "2025-12-17T23:59:59+03:00");
    assert_eq!(json["deadline_utc"], "2025-12-17T20:59:59Z");
    assert_eq!(json["explain"]["skipped"][4]["reason"], "holiday");
    assert_eq!(json["rule"]["origin"], "default");
}

#[test]
fn shifting_off_holidays_and_counting_the_delivery_day_are_settings() {
    let text = POLICIES
        .replace(
            "within_shift_holiday = false",
            "within_shift_holiday = true",
        )
        .replace("\"strictly_between\"", "\"delivery_day_counts\"");
    let pol = Policies::from_toml_str(&text).unwrap();
    let tz = chrono_tz::Europe::Moscow;
    let appeal = compute_query(
        &calendar(),
        &pol,
        &query(AppealReply, Individual, Written, d(2026, 12, 20), tz),
    )
    .unwrap();
    assert_eq!(appeal.explain.deadline_day, d(2027, 1, 11));
    assert_eq!(appeal.explain.shifted_from, Some(d(2027, 1, 4)));
    assert_eq!(appeal.explain.skipped.len(), 7);
    let outage = compute_query(
        &calendar(),
        &pol,
        &query(PlannedOutage, Individual, Written, d(2026, 1, 13), tz),
    )
    .unwrap();
    assert_eq!(outage.explain.deadline_day, d(2025, 12, 18));
    let works = compute_query(
        &calendar(),
        &pol,
        &query(PlannedOutage, LegalEntity, Written, d(2026, 12, 15), tz),
    )
    .unwrap();
    assert_eq!(works.explain.deadline_day, d(2026, 11, 15));
    let visit = compute_query(
        &calendar(),
        &pol,
        &query(MeterVisit, LegalEntity, Written, d(2026, 12, 15), tz),
    )
    .unwrap();
    assert_eq!(visit.explain.deadline_day, d(2026, 12, 5));
}

#[test]
fn a_contract_override_applies_to_its_account_only() {
    let text = format!(
        "{POLICIES}\n[[overrides]]\naccount_number = \"6300123456\"\nkind = \"planned_outage\"\n\
         customer_types = [\"legal_entity\"]\ndirection = \"before\"\namount = 15\nunit = \"working_days\"\n\
         source = \"contract 123-E cl. 5.3\"\n"
    );
    let pol = Policies::from_toml_str(&text).unwrap();
    let event = EventMoment::Date(d(2026, 1, 13));
    let tz = chrono_tz::Europe::Moscow;
    let own = compute(
        &calendar(),
        &pol,
        PlannedOutage,
        LegalEntity,
        Some("6300123456"),
        event,
        tz,
    )
    .unwrap();
    assert_eq!(own.explain.deadline_day, d(2025, 12, 10));
    assert_eq!(own.rule.origin, RuleOrigin::AccountOverride);
    assert!(own.rule.description.contains("contract 123-E"));
    let other = compute(
        &calendar(),
        &pol,
        PlannedOutage,
        LegalEntity,
        Some("1"),
        event,
        tz,
    )
    .unwrap();
    assert_eq!(other.explain.deadline_day, d(2025, 12, 12));
}

/// The many-recipient path looks the override up under the appeal variant's own rule:
/// an answering-machine appeal's override applies to its account, and only there.
#[test]
fn an_override_of_an_appeal_variant_reaches_its_account_among_many() {
    let text = format!(
        "{POLICIES}\n[[overrides]]\naccount_number = \"6300123456\"\nkind = \"appeal_reply\"\n\
         variant = \"answering_machine_phone\"\ncustomer_types = [\"individual\"]\n\
         direction = \"within\"\namount = 2\nunit = \"working_days\"\nsource = \"contract 7 cl. 2\"\n"
    );
    let mut rulebook =
        super::Rulebook::load(&crate::settings::Settings::defaults().deadlines).unwrap();
    rulebook.policies = Policies::from_toml_str(&text).unwrap();
    let tz = chrono_tz::Europe::Moscow;
    let got = rulebook.deadlines(
        AppealReply,
        EventMoment::Date(d(2026, 12, 1)),
        AppealVariant::AnsweringMachinePhone,
        [
            (Individual, "1", tz, None),
            (Individual, "6300123456", tz, None),
            (Individual, "2", tz, None),
        ]
        .into_iter(),
    );
    let days: Vec<_> = got
        .iter()
        .map(|r| r.as_ref().unwrap().explain.deadline_day)
        .collect();
    // 5 working days from 1 Dec (Tue): 8 Dec; the contract's 2: 3 Dec.
    assert_eq!(days, [d(2026, 12, 8), d(2026, 12, 3), d(2026, 12, 8)]);
    assert_eq!(
        got[1].as_ref().unwrap().rule.origin,
        RuleOrigin::AccountOverride
    );
}

/// A recipient's region picks its calendar; recipients of one zone in different regions
/// do not share a computation.
#[test]
fn a_recipient_in_a_region_with_its_own_holiday_counts_it() {
    let rulebook = super::Rulebook::load(&crate::settings::Settings::defaults().deadlines).unwrap();
    assert_eq!(rulebook.regions().collect::<Vec<_>>(), ["RU-TA"]);
    let tz = chrono_tz::Europe::Moscow;
    let got = rulebook.deadlines(
        AppealReply,
        EventMoment::Date(d(2026, 11, 2)),
        AppealVariant::AnsweringMachinePhone,
        [
            (Individual, "1", tz, None),
            (Individual, "2", tz, Some("RU-TA")),
            (Individual, "3", tz, Some("RU-MOW")),
        ]
        .into_iter(),
    );
    let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
    let days: Vec<_> = got.iter().map(|r| r.explain.deadline_day).collect();
    // 5 working days after Mon 2 Nov, past 4 Nov (federal): 10 Nov; in Tatarstan also
    // past its Constitution Day, Fri 6 Nov: 11 Nov. Moscow has no days of its own.
    assert_eq!(days, [d(2026, 11, 10), d(2026, 11, 11), d(2026, 11, 10)]);
    assert_eq!(got[1].region.as_deref(), Some("RU-TA"));
    assert_eq!(got[0].region, None);
}

#[test]
fn an_instant_is_read_in_the_recipients_time_zone() {
    let registered: DateTime<FixedOffset> = "2026-12-20T20:30:00Z".parse().unwrap();
    let event = EventMoment::Instant(registered);
    let kamchatka = compute(
        &calendar(),
        &policies(),
        AppealReply,
        Individual,
        None,
        event,
        chrono_tz::Asia::Kamchatka,
    )
    .unwrap();
    assert_eq!(kamchatka.deadline.to_rfc3339(), "2027-01-05T23:59:59+12:00");
    let moscow = compute(
        &calendar(),
        &policies(),
        AppealReply,
        Individual,
        None,
        event,
        chrono_tz::Europe::Moscow,
    )
    .unwrap();
    assert_eq!(moscow.deadline.to_rfc3339(), "2027-01-04T23:59:59+03:00");
    let parsed: EventMoment = serde_json::from_str("\"2026-12-20T09:00:00\"").unwrap();
    assert_eq!(parsed.local_date(chrono_tz::UTC).unwrap(), d(2026, 12, 20));
    let parsed: EventMoment = serde_json::from_str("\"2026-12-20\"").unwrap();
    assert_eq!(parsed, EventMoment::Date(d(2026, 12, 20)));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (cal, pol) = (calendar(), policies());
    let tz = chrono_tz::Europe::Moscow;
    let err = compute_query(
        &cal,
        &pol,
        &query(PlannedOutage, Individual, Written, d(2028, 6, 1), tz),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DeadlineError::Calendar(CalendarError::YearNotCovered { year: 2028 })
        ),
        "{err}"
    );
    let err = compute_query(
        &cal,
        &pol,
        &query(
            MeterVisit,
            Individual,
            AnsweringMachinePhone,
            d(2026, 6, 1),
            tz,
        ),
    )
    .unwrap_err();
    assert!(
        matches!(err, DeadlineError::VariantNotApplicable { .. }),
        "{err}"
    );
    let no_ext = Policies::from_toml_str(
        &POLICIES.replace("extension = { amount = 15, max_total = 30 }", ""),
    )
    .unwrap();
    let err = compute_query(
        &cal,
        &no_ext,
        &query(AppealReply, Individual, WrittenExtended, d(2026, 6, 1), tz),
    )
    .unwrap_err();
    assert!(matches!(err, DeadlineError::NoExtension { .. }), "{err}");
    let err = compute_query(
        &cal,
        &pol,
        &query(MeterVisit, Individual, Written, NaiveDate::MIN, tz),
    )
    .unwrap_err();
    assert!(matches!(err, DeadlineError::DateOutOfRange { .. }), "{err}");
    let err = compute_query(
        &cal,
        &pol,
        &query(AppealReply, Individual, Written, NaiveDate::MAX, tz),
    )
    .unwrap_err();
    assert!(matches!(err, DeadlineError::DateOutOfRange { .. }), "{err}");
    // Near the ends of the representable range every rule answers without panicking.
    let edges = [
        NaiveDate::MIN,
        NaiveDate::MAX - chrono::Days::new(15),
        NaiveDate::MAX,
    ];
    for (event, tz) in edges.into_iter().flat_map(|e| {
        [
            (e, tz),
            (e, chrono_tz::America::New_York),
            (e, chrono_tz::Pacific::Kiritimati),
        ]
    }) {
        for (kind, ct, appeal) in QUERIES {
            let _ = compute_query(&cal, &pol, &query(kind, ct, appeal, event, tz));
        }
    }
    for instant in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        for tz in [chrono_tz::Asia::Kamchatka, chrono_tz::America::New_York] {
            let event = EventMoment::Instant(instant.fixed_offset());
            let _ = compute(&cal, &pol, AppealReply, Individual, None, event, tz);
        }
    }
}

const ZONES: [Tz; 6] = [
    chrono_tz::Europe::Kaliningrad,
    chrono_tz::Europe::Moscow,
    chrono_tz::Asia::Yekaterinburg,
    chrono_tz::Asia::Krasnoyarsk,
    chrono_tz::Asia::Vladivostok,
    chrono_tz::Asia::Kamchatka,
];

const QUERIES: [(IntentKind, CustomerType, AppealVariant); 10] = [
    (PlannedOutage, Individual, Written),
    (PlannedOutage, LegalEntity, Written),
    (MeterVisit, Individual, Written),
    (DebtWarning, Individual, Written),
    (DebtWarning, LegalEntity, Written),
    (TariffChange, LegalEntity, Written),
    (AppealReply, Individual, Written),
    (AppealReply, Individual, WrittenExtended),
    (AppealReply, LegalEntity, AnsweringMachinePhone),
    (AppealReply, LegalEntity, AnsweringMachineAddress),
];

/// Days from 1 Mar 2025 to 31 Oct 2027: far enough inside the calendar's years that every
/// rule's counting stays covered.
fn covered_day() -> impl Strategy<Value = NaiveDate> {
    (0u64..975).prop_map(|n| d(2025, 3, 1) + chrono::Days::new(n))
}

fn d_apr_2025() -> NaiveDate {
    d(2025, 4, 1)
}

proptest! {
    #[test]
    fn an_earlier_event_never_moves_the_deadline_later(
        a in covered_day(), b in covered_day(), q in 0..QUERIES.len(), z in 0..ZONES.len(), shift: bool,
    ) {
        let (earlier, later) = (a.min(b), a.max(b));
        let text = POLICIES.replace("within_shift_holiday = false", &format!("within_shift_holiday = {shift}"));
        let (cal, pol) = (calendar(), Policies::from_toml_str(&text).unwrap());
        let (kind, ct, appeal) = QUERIES[q];
        let early = compute_query(&cal, &pol, &query(kind, ct, appeal, earlier, ZONES[z])).unwrap();
        let late = compute_query(&cal, &pol, &query(kind, ct, appeal, later, ZONES[z])).unwrap();
        prop_assert!(early.deadline <= late.deadline);
        prop_assert_eq!(early.deadline.time(), pol.counting.deadline_time);
    }

    #[test]
    fn a_working_day_deadline_leaves_exactly_n_working_days_strictly_between(
        // From April 2025: 40 working days back from early March 2025 would leave 2025.
        event in covered_day().prop_filter("counting stays in 2025-2027", |d| *d >= d_apr_2025()), n in 0u32..40,
    ) {
        let cal = calendar();
        let found = counting::before(&cal, event, n, Unit::WorkingDays, BeforeConvention::StrictlyBetween).unwrap();
        let between = cal.working_days_between(found.day, event).unwrap();
        prop_assert!(between.len() >= n as usize);
        // The latest such day: one day later would leave fewer.
        let next = found.day.succ_opt().unwrap();
        prop_assert!(cal.working_days_between(next, event).unwrap().len() < n as usize || n == 0 && next >= event);
        prop_assert_eq!(found.counted_days, between);
    }

    #[test]
    fn day_and_month_rules_leave_n_full_units_strictly_between(event in covered_day(), n in 1u32..40) {
        let cal = calendar();
        let days = counting::before(&cal, event, n, Unit::CalendarDays, BeforeConvention::StrictlyBetween).unwrap();
        prop_assert_eq!((event - days.day).num_days(), i64::from(n) + 1);
        let months = n % 12 + 1;
        let found = counting::before(&cal, event, months, Unit::Months, BeforeConvention::StrictlyBetween).unwrap();
        let plus = |day: NaiveDate| day.checked_add_months(chrono::Months::new(months)).unwrap();
        prop_assert!(plus(found.day) < event);
        prop_assert!(plus(found.day.succ_opt().unwrap()) >= event);
        prop_assert_eq!(found.counted_months.len(), months as usize);
    }

    #[test]
    fn a_within_working_day_deadline_is_the_nth_working_day_after(registered in covered_day(), n in 0u32..25) {
        let cal = calendar();
        let found = counting::within(&cal, registered, n, Unit::WorkingDays, false).unwrap();
        let counted = cal.working_days_between(registered, found.day.succ_opt().unwrap()).unwrap();
        prop_assert_eq!(counted.len(), n as usize);
        prop_assert!(n == 0 || cal.is_working_day(found.day).unwrap());
        prop_assert!(found.day > registered || n == 0);
    }
}
