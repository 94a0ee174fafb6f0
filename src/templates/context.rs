//! The data a template sees (documented in `docs/intents.md`, "What templates see").

use chrono::Utc;
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::settings::Organization;

/// The intent-level part of the context, built once per intent and time zone.
pub struct IntentContext<'a> {
    pub id: &'a str,
    pub external_id: &'a str,
    pub kind: &'a str,
    /// The event, already localised to the recipient's zone.
    pub event: &'a Value,
}

/// The recipient as templates see it; contact points other than the postal address
/// (which a letter prints) stay out of reach.
pub struct RecipientContext<'a> {
    pub name: &'a str,
    pub account_number: &'a str,
    pub customer_type: &'a str,
    pub time_zone: Tz,
    pub postal_address: Option<&'a Value>,
    pub debt: Option<&'a Value>,
}

pub fn build(
    org: &Organization,
    intent: &IntentContext<'_>,
    recipient: &RecipientContext<'_>,
    message_id: &str,
    channel: &str,
) -> Value {
    let mut r = json!({
        "name": recipient.name,
        "account_number": recipient.account_number,
        "customer_type": recipient.customer_type,
    });
    if let Some(address) = recipient.postal_address {
        r["postal_address"] = address.clone();
    }
    if let Some(debt) = recipient.debt {
        r["debt"] = debt.clone();
    }
    let today = Utc::now().with_timezone(&recipient.time_zone).date_naive();
    json!({
        "org": org,
        "intent": {"id": intent.id, "external_id": intent.external_id, "kind": intent.kind},
        "event": intent.event,
        "recipient": r,
        "message": {
            "id": message_id,
            "channel": channel,
            "outgoing_number": outgoing_number(message_id),
            "date": today.to_string(),
        },
    })
}

/// The letter's outgoing number (исх. №): unique per message and short enough to quote on
/// the phone. The random tail of a UUIDv7 keeps it unique without a shared counter.
pub fn outgoing_number(message_id: &str) -> String {
    let tail: String = message_id
        .chars()
        .filter(|c| *c != '-')
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("ВН-{}", tail.to_uppercase())
}
