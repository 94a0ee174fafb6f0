//! Deadlines: by when a notice must be delivered, or an appeal answered.
//!
//! Pure domain code, no I/O: the caller loads [`Policies`] from `config/policies.toml` and a
//! [`Calendar`] from `config/calendar/`, and passes them in. Counting happens in the
//! recipient's local time zone; the result carries its own explanation (rule, source, days
//! counted and skipped) because an auditor must be able to see why a deadline is what it is.
//!
//! Layout: `rules` (the configured rules), `counting` (day arithmetic), this file (the API).

mod counting;
mod rulebook;
mod rules;
#[cfg(test)]
mod tests;

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use counting::{MonthSpan, SkipReason, SkippedDay};
pub use rulebook::{Rulebook, event_moment};
pub use rules::{
    BeforeConvention, Counting, Direction, Extension, Policies, PolicyError, Rule, RuleKey,
    RuleOrigin, RuleVariant, Unit,
};

use crate::calendar::{Calendar, CalendarError, YearSource};
use crate::intents::IntentKind;
use crate::recipients::CustomerType;

/// Why no deadline could be computed.
#[derive(Debug, thiserror::Error)]
pub enum DeadlineError {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("no deadline rule for {key}: add it to config/policies.toml")]
    NoRule { key: String },
    #[error("the appeal variant {variant:?} applies only to appeal_reply, not to {kind}")]
    VariantNotApplicable {
        kind: &'static str,
        variant: AppealVariant,
    },
    #[error("the rule for {key} has no extension configured")]
    NoExtension { key: String },
    #[error("the deadline falls outside the supported date range (near {date})")]
    DateOutOfRange { date: NaiveDate },
    #[error("{date} {time} does not exist or is ambiguous in time zone {tz}")]
    LocalTimeInvalid {
        date: NaiveDate,
        time: NaiveTime,
        tz: Tz,
    },
}

/// The event a deadline counts from: the outage day, the visit day, the restriction date,
/// the tariff's start, or the appeal's registration. Only its local date matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventMoment {
    /// A local date in the recipient's time zone (`2026-01-13`).
    Date(NaiveDate),
    /// A local date-time in the recipient's time zone (`2026-01-13T09:00:00`).
    LocalDateTime(NaiveDateTime),
    /// An absolute instant (`2026-12-20T08:00:00Z`), read in the recipient's time zone.
    Instant(DateTime<FixedOffset>),
}

impl EventMoment {
    /// The event's calendar day as the recipient sees it.
    pub fn local_date(self, tz: Tz) -> Result<NaiveDate, DeadlineError> {
        match self {
            Self::Date(d) => Ok(d),
            Self::LocalDateTime(dt) => Ok(dt.date()),
            // Done by hand because chrono's own conversion panics at the ends of its range.
            Self::Instant(dt) => {
                let utc = dt.naive_utc();
                let offset = tz.offset_from_utc_datetime(&utc).fix();
                let local = utc.checked_add_offset(offset);
                local
                    .map(|l| l.date())
                    .ok_or(DeadlineError::DateOutOfRange { date: utc.date() })
            }
        }
    }
}

/// Which appeal-reply rule applies; ignored for other kinds except that a non-default value
/// there is an error (it would mean the caller confused two intents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppealVariant {
    /// A written or email appeal.
    #[default]
    Written,
    /// A written or email appeal whose term was extended once after an interim reply.
    WrittenExtended,
    /// Left on the answering machine with a phone number.
    AnsweringMachinePhone,
    /// Left on the answering machine with a postal address.
    AnsweringMachineAddress,
}

/// Everything a deadline depends on besides the calendar and the policies.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineQuery<'a> {
    pub kind: IntentKind,
    pub customer_type: CustomerType,
    /// Selects a per-contract override when one exists.
    pub account_number: Option<&'a str>,
    pub event: EventMoment,
    /// The recipient's time zone.
    pub tz: Tz,
    /// The recipient's region (ISO 3166-2), whose own days off count; none: federal only.
    /// Only [`Rulebook::deadline`] picks the calendar by it.
    pub region: Option<&'a str>,
    pub appeal: AppealVariant,
}

/// A computed deadline with its justification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deadline {
    /// The last moment, in the recipient's offset (RFC 3339 when serialised).
    pub deadline: DateTime<FixedOffset>,
    pub deadline_utc: DateTime<Utc>,
    /// IANA name of the recipient's time zone.
    pub time_zone: String,
    /// The recipient's region (ISO 3166-2), when it named one: its own days off counted,
    /// if `config/calendar/overlays/` has any for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub rule: AppliedRule,
    pub explain: Explanation,
}

/// The rule that produced a deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedRule {
    pub kind: IntentKind,
    pub customer_type: CustomerType,
    pub variant: RuleVariant,
    pub origin: RuleOrigin,
    pub direction: Direction,
    /// The amount counted, the extension included when one was applied.
    pub amount: u32,
    pub unit: Unit,
    pub extended: bool,
    pub source: String,
    /// One sentence a person can read: the rule, the convention, the source.
    pub description: String,
}

/// How the deadline day was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The event's local day (for appeals, the registration day).
    pub event_day: NaiveDate,
    pub deadline_day: NaiveDate,
    /// The days that counted as units (calendar or working days).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counted_days: Vec<NaiveDate>,
    /// The months that counted, for month rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counted_months: Vec<MonthSpan>,
    /// Weekends and holidays that did not count, or that a shift stepped over.
    pub skipped: Vec<SkippedDay>,
    /// Set when a "within" deadline was moved off a day off (Civil Code art. 193).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shifted_from: Option<NaiveDate>,
    /// The calendar data used, when the rule needed the calendar.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calendar_sources: Vec<YearSource>,
    pub summary: String,
}

/// The deadline for a notice of `kind` to a customer, for the standard (or, for appeals, the
/// written-appeal) rule; see [`compute_query`] to pick another appeal variant.
pub fn compute(
    calendar: &Calendar,
    policies: &Policies,
    kind: IntentKind,
    customer_type: CustomerType,
    account_number: Option<&str>,
    event: EventMoment,
    tz: Tz,
) -> Result<Deadline, DeadlineError> {
    let query = DeadlineQuery {
        kind,
        customer_type,
        account_number,
        event,
        tz,
        region: None,
        appeal: AppealVariant::default(),
    };
    compute_query(calendar, policies, &query)
}

/// Which rule an appeal variant is counted by, and whether the reply period is extended.
pub fn rule_variant(
    kind: IntentKind,
    appeal: AppealVariant,
) -> Result<(RuleVariant, bool), DeadlineError> {
    Ok(match (kind, appeal) {
        (_, AppealVariant::Written) => (RuleVariant::Standard, false),
        (IntentKind::AppealReply, AppealVariant::WrittenExtended) => (RuleVariant::Standard, true),
        (IntentKind::AppealReply, AppealVariant::AnsweringMachinePhone) => {
            (RuleVariant::AnsweringMachinePhone, false)
        }
        (IntentKind::AppealReply, AppealVariant::AnsweringMachineAddress) => {
            (RuleVariant::AnsweringMachineAddress, false)
        }
        (kind, variant) => {
            return Err(DeadlineError::VariantNotApplicable {
                kind: kind.as_str(),
                variant,
            });
        }
    })
}

/// The deadline for a fully described query.
pub fn compute_query(
    calendar: &Calendar,
    policies: &Policies,
    query: &DeadlineQuery<'_>,
) -> Result<Deadline, DeadlineError> {
    let (variant, extended) = rule_variant(query.kind, query.appeal)?;
    let key = RuleKey {
        kind: query.kind,
        customer_type: query.customer_type,
        variant,
    };
    let (rule, origin) = policies
        .rule_for(key, query.account_number)
        .ok_or_else(|| DeadlineError::NoRule {
            key: key.to_string(),
        })?;
    let amount = match (extended, rule.extension) {
        (false, _) => rule.amount,
        (true, Some(ext)) => rule.amount.saturating_add(ext.amount).min(ext.max_total),
        (true, None) => {
            return Err(DeadlineError::NoExtension {
                key: key.to_string(),
            });
        }
    };
    let counting = &policies.counting;
    let event_day = query.event.local_date(query.tz)?;
    let counted = match rule.direction {
        Direction::Before => counting::before(
            calendar,
            event_day,
            amount,
            rule.unit,
            counting.before_convention,
        )?,
        Direction::Within => counting::within(
            calendar,
            event_day,
            amount,
            rule.unit,
            counting.within_shift_holiday,
        )?,
    };
    let deadline = local_instant(counted.day, counting.deadline_time, query.tz)?;
    let applied = AppliedRule {
        kind: query.kind,
        customer_type: query.customer_type,
        variant,
        origin,
        direction: rule.direction,
        amount,
        unit: rule.unit,
        extended,
        source: rule.source.clone(),
        description: describe(key, rule, amount, extended, origin, counting),
    };
    let calendar_sources = if counted.used_calendar {
        let (first, last) = (counted.day.min(event_day), counted.day.max(event_day));
        (chrono::Datelike::year(&first)..=chrono::Datelike::year(&last))
            .filter_map(|y| calendar.year_source(y).ok().cloned())
            .collect()
    } else {
        Vec::new()
    };
    let summary = summarise(&applied, event_day, &counted);
    Ok(Deadline {
        deadline_utc: deadline.with_timezone(&Utc),
        deadline,
        time_zone: query.tz.name().to_owned(),
        region: query.region.map(str::to_owned),
        rule: applied,
        explain: Explanation {
            event_day,
            deadline_day: counted.day,
            counted_days: counted.counted_days,
            counted_months: counted.counted_months,
            skipped: counted.skipped,
            shifted_from: counted.shifted_from,
            calendar_sources,
            summary,
        },
    })
}

fn local_instant(
    day: NaiveDate,
    time: NaiveTime,
    tz: Tz,
) -> Result<DateTime<FixedOffset>, DeadlineError> {
    match tz.from_local_datetime(&day.and_time(time)) {
        LocalResult::Single(dt) => Ok(dt.fixed_offset()),
        // Russia has had no DST since 2014; elsewhere the earlier instant is the safe one.
        LocalResult::Ambiguous(early, _) => Ok(early.fixed_offset()),
        LocalResult::None => Err(DeadlineError::LocalTimeInvalid {
            date: day,
            time,
            tz,
        }),
    }
}

fn unit_name(unit: Unit, amount: u32) -> &'static str {
    match (unit, amount) {
        (Unit::CalendarDays, 1) => "calendar day",
        (Unit::CalendarDays, _) => "calendar days",
        (Unit::WorkingDays, 1) => "working day",
        (Unit::WorkingDays, _) => "working days",
        (Unit::Months, 1) => "month",
        (Unit::Months, _) => "months",
    }
}

fn describe(
    key: RuleKey,
    rule: &Rule,
    amount: u32,
    extended: bool,
    origin: RuleOrigin,
    c: &Counting,
) -> String {
    let units = format!("{amount} {}", unit_name(rule.unit, amount));
    let body = match rule.direction {
        Direction::Before => match c.before_convention {
            BeforeConvention::StrictlyBetween => format!(
                "delivered at least {units} before the event, neither the delivery day nor the event day counting"
            ),
            BeforeConvention::DeliveryDayCounts => {
                format!(
                    "delivered at least {units} before the event, the delivery day counting as the first"
                )
            }
        },
        Direction::Within => {
            let shift = if c.within_shift_holiday {
                "moved to the next working day if it is a day off"
            } else {
                "not moved off days off"
            };
            format!(
                "within {units} of registration, counted from the next day, the last day {shift}"
            )
        }
    };
    let ext = if extended {
        " (extended once after an interim reply)"
    } else {
        ""
    };
    let origin = match origin {
        RuleOrigin::Default => "default rule",
        RuleOrigin::AccountOverride => "contract override for this account",
    };
    let time = c.deadline_time.format("%H:%M:%S");
    format!(
        "{key}: {body}{ext}; deadline at {time} local time; {origin}; source: {}",
        rule.source
    )
}

fn summarise(rule: &AppliedRule, event_day: NaiveDate, counted: &counting::Counted) -> String {
    let units = format!("{} {}", rule.amount, unit_name(rule.unit, rule.amount));
    let mut text = match rule.direction {
        Direction::Before => format!(
            "Event day {event_day}; {units} counted back; latest delivery day {}.",
            counted.day
        ),
        Direction::Within => format!(
            "Registered {event_day}; {units} counted from the next day; due {}.",
            counted.day
        ),
    };
    if !counted.skipped.is_empty() {
        let days: Vec<String> = counted
            .skipped
            .iter()
            .map(|s| s.date.format("%d.%m.%Y").to_string())
            .collect();
        text.push_str(&format!(
            " Not counted (weekends/holidays): {}.",
            days.join(", ")
        ));
    }
    if let Some(from) = counted.shifted_from {
        text.push_str(&format!(
            " Moved from day off {from} to the next working day."
        ));
    }
    text
}
