//! Notification intents: one event (an outage, a debt, a tariff change…) and the many
//! recipients to notify about it, parsed from an upstream request into typed values.

mod money;
mod parallel;
mod planning;
pub mod schema;

use chrono::{DateTime, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use money::Money;

use crate::callbacks::CallbackUrl;
use crate::recipients::{RawRecipient, Recipient};
use crate::validation::{FieldErrors, Loose, optional, required, text};

/// What the notice is about; each kind has its own mandatory fields and deadline rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    PlannedOutage,
    MeterVisit,
    DebtWarning,
    TariffChange,
    AppealReply,
}

impl IntentKind {
    pub const ALL: [IntentKind; 5] = [
        IntentKind::PlannedOutage,
        IntentKind::MeterVisit,
        IntentKind::DebtWarning,
        IntentKind::TariffChange,
        IntentKind::AppealReply,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlannedOutage => "planned_outage",
            Self::MeterVisit => "meter_visit",
            Self::DebtWarning => "debt_warning",
            Self::TariffChange => "tariff_change",
            Self::AppealReply => "appeal_reply",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A validated intent, ready to be stored.
#[derive(Debug, Clone)]
pub struct NewIntent {
    pub kind: IntentKind,
    pub external_id: String,
    /// The kind's fields in canonical form (see [`schema::validate`]).
    pub event: Value,
    pub recipients: Vec<Recipient>,
    pub accept_late: bool,
    /// Where the status of every message is POSTed, if anywhere.
    pub callback_url: Option<CallbackUrl>,
    /// Each recipient's legal deadline (epoch ms), once planned; same order as recipients.
    pub deadlines: Vec<Option<i64>>,
    /// Each recipient's messages in channel-plan order, once planned.
    pub schedules: Vec<Vec<crate::plans::Step>>,
    /// The deadlines as ledger facts (rule and inputs), one per distinct deadline.
    pub deadline_facts: Vec<crate::ledger::DeadlineFact>,
}

/// The request body as it arrived, loose enough to report every bad field. `R` is how
/// far its recipients are read: `RawRecipient`, or still JSON text (`intents::parallel`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntent<R = RawRecipient> {
    kind: Option<Loose<String>>,
    external_id: Option<Loose<String>>,
    event: Option<Value>,
    recipients: Option<Vec<R>>,
    accept_late: Option<Loose<bool>>,
    callback_url: Option<Loose<String>>,
}

/// Most recipients one intent may carry; bigger mailings are split by the caller.
pub const MAX_RECIPIENTS: usize = 200_000;

impl RawIntent {
    /// Parses the whole request; on failure, every offending field is listed.
    pub fn parse(self) -> Result<NewIntent, FieldErrors> {
        let mut errors = FieldErrors::default();
        let kind = required(self.kind, "kind", &mut errors).and_then(|k| {
            IntentKind::parse(&k)
                .ok_or_else(|| {
                    errors.push(
                        "kind",
                        format!("unknown kind '{k}': use planned_outage, meter_visit, debt_warning, tariff_change or appeal_reply"),
                    )
                })
                .ok()
        });
        let external_id = text(
            required(self.external_id, "external_id", &mut errors),
            "external_id",
            200,
            &mut errors,
        );
        let accept_late = optional(self.accept_late, "accept_late", &mut errors).unwrap_or(false);
        let callback_url =
            optional(self.callback_url, "callback_url", &mut errors).and_then(|url| {
                CallbackUrl::parse(&url)
                    .map_err(|why| errors.push("callback_url", why))
                    .ok()
            });

        let event = match (kind, self.event) {
            (Some(kind), Some(event)) => parse_event(kind, &event, &mut errors),
            (_, None) => {
                errors.push("event", "is required");
                None
            }
            (None, Some(_)) => None,
        };

        let raw_recipients = self.recipients.unwrap_or_default();
        if raw_recipients.is_empty() {
            errors.push("recipients", "must list at least one recipient");
        } else if raw_recipients.len() > MAX_RECIPIENTS {
            errors.push(
                "recipients",
                format!("at most {MAX_RECIPIENTS} recipients per intent"),
            );
        }
        let recipients = parallel::parse_recipients(kind, raw_recipients, &mut errors);

        if !errors.is_empty() {
            return Err(errors);
        }
        match (kind, external_id, event) {
            (Some(kind), Some(external_id), Some(event)) => Ok(NewIntent {
                kind,
                external_id,
                event,
                recipients,
                accept_late,
                callback_url,
                deadlines: Vec::new(),
                schedules: Vec::new(),
                deadline_facts: Vec::new(),
            }),
            _ => unreachable!("every missing part was reported as an error"),
        }
    }
}

/// The event of a `kind` in canonical form, or `None` with every fault reported under
/// `event`. Public so that `vestnik import` checks an event file exactly as intake does.
pub fn parse_event(kind: IntentKind, event: &Value, errors: &mut FieldErrors) -> Option<Value> {
    schema::validate(schema::event_fields(kind), event, "event", errors)
        .filter(|event| check_event(kind, event, errors))
}

/// One recipient of an intent of `kind` (`None`: the kind itself was invalid), with its
/// kind-specific `debt`; faults are reported under `path`. Public so that `vestnik import`
/// checks each CSV row exactly as intake checks a recipient.
pub fn parse_recipient(
    kind: Option<IntentKind>,
    raw: RawRecipient,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<Recipient> {
    let (mut recipient, debt) = raw.parse(path, errors)?;
    match (kind, debt) {
        (Some(IntentKind::DebtWarning), Some(debt)) => {
            let debt_path = format!("{path}.debt");
            let before = errors.len();
            recipient.debt = schema::validate(schema::debt_fields(), &debt, &debt_path, errors)
                .filter(|d| check_debt(d, &debt_path, errors));
            if errors.len() != before {
                return None;
            }
        }
        (Some(IntentKind::DebtWarning), None) => {
            errors.push(format!("{path}.debt"), "is required for debt_warning");
            return None;
        }
        (_, Some(_)) => {
            errors.push(format!("{path}.debt"), "is only accepted for debt_warning");
            return None;
        }
        (_, None) => {}
    }
    Some(recipient)
}

/// Checks that relate fields to each other, after each field parsed on its own.
fn check_event(kind: IntentKind, event: &Value, errors: &mut FieldErrors) -> bool {
    let before = errors.len();
    let datetime = |name: &str| {
        event[name]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
    };
    let time = |name: &str| {
        event[name]
            .as_str()
            .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok())
    };
    match kind {
        IntentKind::PlannedOutage => {
            if let (Some(start), Some(end)) = (datetime("starts_at"), datetime("ends_at"))
                && end <= start
            {
                errors.push("event.ends_at", "must be after event.starts_at");
            }
        }
        IntentKind::MeterVisit => {
            if let (Some(from), Some(to)) = (time("interval_from"), time("interval_to"))
                && to <= from
            {
                errors.push("event.interval_to", "must be after event.interval_from");
            }
        }
        _ => {}
    }
    errors.len() == before
}

fn check_debt(debt: &Value, path: &str, errors: &mut FieldErrors) -> bool {
    let date = |name: &str| {
        debt[name]
            .as_str()
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    };
    if let (Some(from), Some(to)) = (date("period_from"), date("period_to"))
        && to < from
    {
        errors.push(
            format!("{path}.period_to"),
            "must not be before period_from",
        );
        return false;
    }
    true
}
