//! Planning decisions under chosen instants: the clock is an argument.

use super::*;

fn plans() -> Plans {
    Plans::from_toml_str(include_str!("../../config/channel_plans.toml")).unwrap()
}

fn calendar() -> Calendar {
    Calendar::from_toml_strs([
        include_str!("../../config/calendar/ru-2025.toml"),
        include_str!("../../config/calendar/ru-2026.toml"),
        include_str!("../../config/calendar/ru-2027.toml"),
    ])
    .unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn supplementary_and_first_legal_channel_start_now_the_rest_wait() {
    let now = utc("2027-02-01T10:00:00Z");
    let deadline = utc("2027-03-01T20:59:59Z");
    let steps = plans()
        .schedule(
            IntentKind::PlannedOutage,
            CustomerType::Individual,
            &[Channel::Sms, Channel::Email, Channel::Mail],
            Some(deadline),
            now,
            None,
        )
        .unwrap();
    assert_eq!(
        steps[0],
        Step {
            channel: Channel::Sms,
            legal_step: None,
            confirm_within: Duration::from_secs(7200),
            start: Start::Now,
            received_when_sent: false,
        }
    );
    assert_eq!(steps[1].start, Start::Now);
    assert_eq!(steps[1].legal_step, Some(0));
    // The letter waits for escalation, but leaves no later than deadline - 7 d - 12 h.
    assert_eq!(
        steps[2].start,
        Start::Held {
            latest: utc("2027-02-22T08:59:59Z")
        }
    );
}

#[test]
fn a_letter_close_to_its_deadline_is_due_at_once() {
    // A meter visit's legal chain runs SMS → letter (a debt's starts with the letter).
    let now = utc("2027-02-25T10:00:00Z");
    let deadline = utc("2027-03-05T20:59:59Z");
    let steps = plans()
        .schedule(
            IntentKind::MeterVisit,
            CustomerType::Individual,
            &[Channel::Sms, Channel::Mail],
            Some(deadline),
            now,
            None,
        )
        .unwrap();
    // Latest start (26 Feb 08:59) is tomorrow: held, but only until then.
    assert_eq!(
        steps[1].start,
        Start::Held {
            latest: utc("2027-02-26T08:59:59Z")
        }
    );
    let later = utc("2027-02-27T10:00:00Z");
    let steps = plans()
        .schedule(
            IntentKind::MeterVisit,
            CustomerType::Individual,
            &[Channel::Sms, Channel::Mail],
            Some(deadline),
            later,
            None,
        )
        .unwrap();
    assert_eq!(
        steps[1].start,
        Start::Held { latest: later },
        "past its latest start: due now"
    );
}

#[test]
fn only_a_contract_contact_on_a_listed_channel_counts_as_received_when_sent() {
    let plans = plans();
    let now = utc("2027-02-01T10:00:00Z");
    let deadline = Some(utc("2027-03-01T20:59:59Z"));
    let steps = |kind, ct, contract: &[Channel]| {
        let mut steps = plans
            .schedule(
                kind,
                ct,
                &[Channel::Sms, Channel::Email, Channel::Mail],
                deadline,
                now,
                None,
            )
            .unwrap();
        plans.mark_received_when_sent(kind, ct, contract, &mut steps);
        steps
            .iter()
            .map(|s| s.received_when_sent)
            .collect::<Vec<_>>()
    };
    let all = [Channel::Sms, Channel::Email, Channel::Mail];
    // Decree 442: a legal entity's debt notice by email to the contract's address.
    assert_eq!(
        steps(IntentKind::DebtWarning, CustomerType::LegalEntity, &all),
        [false, true, false],
        "the SMS is supplementary and a letter always awaits its receipt"
    );
    assert_eq!(
        steps(
            IntentKind::DebtWarning,
            CustomerType::LegalEntity,
            &[Channel::Mail]
        ),
        [false, false, false],
        "an email address the contract does not name proves nothing when sent"
    );
    // Decree 354 counts from delivery for households; other kinds have no such rule.
    assert_eq!(
        steps(IntentKind::DebtWarning, CustomerType::Individual, &all),
        [false, false, false]
    );
    assert_eq!(
        steps(IntentKind::PlannedOutage, CustomerType::LegalEntity, &all),
        [false, false, false]
    );
}

#[test]
fn a_held_steps_latest_start_falls_inside_its_sending_window() {
    let (plans, calendar) = (plans(), calendar());
    let tz = chrono_tz::Europe::Moscow;
    let now = utc("2027-02-01T10:00:00Z");
    let latest = |deadline: &str, windows| {
        let steps = plans
            .schedule(
                IntentKind::DebtWarning,
                CustomerType::Individual,
                &[Channel::Mail, Channel::Email],
                Some(utc(deadline)),
                now,
                windows,
            )
            .unwrap();
        match steps[1].start {
            Start::Held { latest } => latest,
            Start::Now => panic!("the email is the second legal step"),
        }
    };
    // Due Sunday 7 March 23:59:59: 13 h back is Sunday morning, when a debt email may not
    // go (working days only). The last hour of Friday's 08:00-22:00 (230-FZ) is.
    let sunday = "2027-03-07T20:59:59Z";
    assert_eq!(latest(sunday, None), utc("2027-03-07T07:59:59Z"));
    assert_eq!(
        latest(sunday, Some((&calendar, tz))),
        utc("2027-03-05T18:00:00Z")
    );
    // Due Tuesday: 10:59:59 Tuesday is open, with hours to spare; it stays.
    let tuesday = "2027-03-02T20:59:59Z";
    assert_eq!(
        latest(tuesday, Some((&calendar, tz))),
        utc("2027-03-02T07:59:59Z")
    );
    let at = |t: &str, tz: Tz| {
        plans
            .last_window_before(
                &calendar,
                IntentKind::DebtWarning,
                CustomerType::Individual,
                Channel::Email,
                tz,
                utc(t),
            )
            .unwrap()
    };
    // A closing window leaves its last hour: 21:30 becomes 21:00.
    assert_eq!(
        at("2027-03-02T18:30:00Z", tz),
        Some(utc("2027-03-02T18:00:00Z"))
    );
    // At the close itself, and before the day's opening: the evening before's last hour.
    assert_eq!(
        at("2027-03-02T19:00:00Z", tz),
        Some(utc("2027-03-02T18:00:00Z"))
    );
    assert_eq!(
        at("2027-03-03T04:00:00Z", tz),
        Some(utc("2027-03-02T18:00:00Z"))
    );
}

#[test]
fn contract_visit_hours_are_found_by_the_account_as_intake_reads_it() {
    let shipped = include_str!("../../config/channel_plans.toml");
    let with = |contracts: &str| Plans::from_toml_str(&format!("{shipped}\n{contracts}"));
    let plans = with(
        "[[meter_visit.contracts]]\naccount_number = \" 7701 \"\n\
         working_days = { from = \"08:00\", to = \"17:00\" }\nsource = \"contract 1\"\n",
    )
    .unwrap();
    let (hours, by_contract) = plans.meter_visit.for_account("7701");
    assert!(by_contract && (hours.from, hours.to) == (8 * 60, 17 * 60));
    assert!(!plans.meter_visit.for_account("7702").1);
    let bad = with(
        "[[meter_visit.contracts]]\naccount_number = \"77 01\"\n\
         working_days = { from = \"08:00\", to = \"17:00\" }\nsource = \"contract 1\"\n",
    );
    assert!(bad.err().unwrap().to_string().contains("'77 01'"));
}

#[test]
fn received_when_sent_must_name_a_legal_channel() {
    let text = include_str!("../../config/channel_plans.toml").replace(
        "received_when_sent = [\"email\"]",
        "received_when_sent = [\"sms\"]",
    );
    let err = Plans::from_toml_str(&text)
        .err()
        .expect("sms is not legal there");
    assert!(
        err.to_string().contains("received_when_sent lists 'sms'"),
        "{err}"
    );
}

#[test]
fn no_legal_channel_or_no_time_is_refused() {
    let now = utc("2027-02-01T10:00:00Z");
    let err = plans()
        .schedule(
            IntentKind::PlannedOutage,
            CustomerType::Individual,
            &[Channel::Sms],
            None,
            now,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, ScheduleError::NoLegalChannel { .. }));
    let err = plans()
        .schedule(
            IntentKind::DebtWarning,
            CustomerType::LegalEntity,
            &[Channel::Mail],
            Some(utc("2027-02-03T00:00:00Z")),
            now,
            None,
        )
        .unwrap_err();
    assert_eq!(
        err,
        ScheduleError::Unreachable {
            fastest: Channel::Mail,
            arrives: utc("2027-02-08T10:00:00Z")
        }
    );
}

#[test]
fn sms_waits_for_morning_in_the_recipients_zone() {
    let (p, cal) = (plans(), calendar());
    // 03:00 UTC is 06:00 in Moscow but 15:00 in Kamchatka.
    let now = utc("2027-02-10T03:00:00Z");
    let wait = p
        .window_wait(
            &cal,
            IntentKind::MeterVisit,
            CustomerType::Individual,
            Channel::Sms,
            chrono_tz::Europe::Moscow,
            now,
        )
        .unwrap();
    assert_eq!(
        wait.map(|w| w.0),
        Some(utc("2027-02-10T06:00:00Z")),
        "09:00 Moscow"
    );
    let open = p
        .window_wait(
            &cal,
            IntentKind::MeterVisit,
            CustomerType::Individual,
            Channel::Sms,
            chrono_tz::Asia::Kamchatka,
            now,
        )
        .unwrap();
    assert_eq!(open, None);
    // Email has no quiet hours for a meter visit.
    assert_eq!(
        p.window_wait(
            &cal,
            IntentKind::MeterVisit,
            CustomerType::Individual,
            Channel::Email,
            chrono_tz::Europe::Moscow,
            now
        )
        .unwrap(),
        None
    );
}

#[test]
fn a_fourth_debt_message_in_a_week_waits_for_monday() {
    let p = plans();
    let limit = p
        .frequency_limit(
            IntentKind::DebtWarning,
            CustomerType::Individual,
            Channel::Sms,
        )
        .unwrap();
    assert!(
        p.frequency_limit(
            IntentKind::DebtWarning,
            CustomerType::LegalEntity,
            Channel::Sms
        )
        .is_none()
    );
    assert!(
        p.frequency_limit(
            IntentKind::DebtWarning,
            CustomerType::Individual,
            Channel::Mail
        )
        .is_none()
    );
    // Thursday 11 Feb 2027, 14:00 in Yekaterinburg (UTC+5).
    let now = utc("2027-02-11T09:00:00Z");
    let periods = Periods::around(now, chrono_tz::Asia::Yekaterinburg).unwrap();
    assert_eq!(
        periods.week,
        utc("2027-02-07T19:00:00Z"),
        "Monday 8 Feb, local midnight"
    );
    assert_eq!(
        limit.wait(
            SentCounts {
                day: 1,
                week: 3,
                month: 3
            },
            &periods
        ),
        None
    );
    assert_eq!(
        limit.wait(
            SentCounts {
                day: 2,
                week: 3,
                month: 3
            },
            &periods
        ),
        Some(utc("2027-02-11T19:00:00Z"))
    );
    assert_eq!(
        limit.wait(
            SentCounts {
                day: 0,
                week: 4,
                month: 4
            },
            &periods
        ),
        Some(utc("2027-02-14T19:00:00Z"))
    );
    assert_eq!(
        limit.wait(
            SentCounts {
                day: 0,
                week: 0,
                month: 16
            },
            &periods
        ),
        Some(utc("2027-02-28T19:00:00Z"))
    );
}

#[test]
fn debt_notices_wait_for_the_first_working_day_after_the_new_year_holidays() {
    let (p, cal) = (plans(), calendar());
    // Saturday 2 Jan 2027, noon in Samara: days off run to 10 Jan; 11 Jan is a working day.
    let now = utc("2027-01-02T08:00:00Z");
    let wait = p
        .window_wait(
            &cal,
            IntentKind::DebtWarning,
            CustomerType::Individual,
            Channel::Email,
            chrono_tz::Europe::Samara,
            now,
        )
        .unwrap();
    assert_eq!(
        wait.map(|w| w.0),
        Some(utc("2027-01-11T04:00:00Z")),
        "08:00 Samara on 11 Jan (230-FZ)"
    );
    let sms = p
        .window_wait(
            &cal,
            IntentKind::DebtWarning,
            CustomerType::Individual,
            Channel::Sms,
            chrono_tz::Europe::Samara,
            now,
        )
        .unwrap();
    assert_eq!(
        sms.map(|w| w.0),
        Some(utc("2027-01-11T05:00:00Z")),
        "09:00 Samara: SMS quiet hours too"
    );
}

/// A debt notice goes out on working days only: due on a Sunday and planned on Friday
/// night after the window closed, even email would leave on Monday, too late; without
/// the windows it would look reachable.
#[test]
fn a_deadline_reached_only_through_a_closed_window_is_unreachable() {
    let tz = chrono_tz::Europe::Moscow;
    let now = utc("2027-02-05T19:30:00Z"); // Friday 22:30 in Moscow
    let deadline = utc("2027-02-07T20:59:59Z"); // Sunday 23:59:59
    let channels = [Channel::Email, Channel::Mail];
    let (kind, ct) = (IntentKind::DebtWarning, CustomerType::Individual);
    let plans = plans();
    assert!(
        plans
            .schedule(kind, ct, &channels, Some(deadline), now, None)
            .is_ok()
    );
    let calendar = calendar();
    match plans.schedule(
        kind,
        ct,
        &channels,
        Some(deadline),
        now,
        Some((&calendar, tz)),
    ) {
        Err(ScheduleError::Unreachable { fastest, arrives }) => {
            assert_eq!(fastest, Channel::Email);
            // Monday 08:00 (230-FZ hours) plus an hour.
            assert_eq!(arrives, utc("2027-02-08T06:00:00Z"));
        }
        other => panic!("{other:?}"),
    }
    // Planned on Friday afternoon it goes the same day.
    let afternoon = utc("2027-02-05T12:00:00Z");
    assert!(
        plans
            .schedule(
                kind,
                ct,
                &channels,
                Some(deadline),
                afternoon,
                Some((&calendar, tz))
            )
            .is_ok()
    );
}
