//! Data to render a template with before it goes live: each kind's sample (the first
//! recipient of `examples/<kind>.json`, the request the README shows), or data an operator
//! supplies, parsed exactly as intake parses a request.

use serde::Deserialize;
use serde_json::Value;

use super::context::{self, IntentContext, RecipientContext};
use crate::intents::{self, IntentKind, schema};
use crate::recipients::{Channel, RawRecipient, Recipient};
use crate::settings::Organization;
use crate::validation::FieldErrors;

/// A message id for previews: shaped like a real one, never stored.
const PREVIEW_MESSAGE_ID: &str = "01900000-0000-7000-8000-000000000000";

/// One event and one recipient to render a kind's notice for.
#[derive(Debug, Clone)]
pub struct Sample {
    pub kind: IntentKind,
    external_id: String,
    /// Canonical, as intake stores it.
    event: Value,
    recipient: Recipient,
}

/// `{"event": {...}, "recipient": {...}}` as an operator sends it for a preview.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSample {
    event: Value,
    recipient: RawRecipient,
}

fn example(kind: IntentKind) -> &'static str {
    match kind {
        IntentKind::PlannedOutage => include_str!("../../examples/planned_outage.json"),
        IntentKind::MeterVisit => include_str!("../../examples/meter_visit.json"),
        IntentKind::DebtWarning => include_str!("../../examples/debt_warning.json"),
        IntentKind::TariffChange => include_str!("../../examples/tariff_change.json"),
        IntentKind::AppealReply => include_str!("../../examples/appeal_reply.json"),
    }
}

impl Sample {
    /// The kind's sample: the example request's event and first recipient.
    pub fn of(kind: IntentKind) -> Sample {
        let request: Value = serde_json::from_str(example(kind)).expect("examples are JSON");
        let raw = RawSample {
            event: request["event"].clone(),
            recipient: serde_json::from_value(request["recipients"][0].clone())
                .expect("the example recipient deserialises"),
        };
        let mut sample = Sample::parse(kind, raw).expect("the examples are valid requests");
        sample.external_id = request["external_id"].as_str().unwrap_or("").to_owned();
        sample
    }

    /// Operator-supplied data, every fault reported under `data.event…`/`data.recipient…`.
    pub fn parse(kind: IntentKind, raw: RawSample) -> Result<Sample, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut event_errors = FieldErrors::default();
        let event = intents::parse_event(kind, &raw.event, &mut event_errors);
        for e in event_errors.into_vec() {
            errors.push(format!("data.{}", e.field), e.reason);
        }
        let recipient =
            intents::parse_recipient(Some(kind), raw.recipient, "data.recipient", &mut errors);
        match (event, recipient) {
            (Some(event), Some(recipient)) if errors.is_empty() => Ok(Sample {
                kind,
                external_id: "preview".into(),
                event,
                recipient,
            }),
            _ => Err(errors),
        }
    }

    /// The context a template of this kind sees when sent on `channel`.
    pub fn context(&self, org: &Organization, channel: Channel) -> Value {
        let tz = self.recipient.time_zone;
        let event = schema::localize(schema::event_fields(self.kind), &self.event, tz);
        let postal = self
            .recipient
            .contacts
            .postal_address
            .as_ref()
            .map(|a| serde_json::to_value(a).expect("an address serialises"));
        context::build(
            org,
            &IntentContext {
                id: "preview",
                external_id: &self.external_id,
                kind: self.kind.as_str(),
                event: &event,
            },
            &RecipientContext {
                name: &self.recipient.name,
                account_number: &self.recipient.account_number,
                customer_type: self.recipient.customer_type.as_str(),
                time_zone: tz,
                postal_address: postal.as_ref(),
                debt: self.recipient.debt.as_ref(),
            },
            PREVIEW_MESSAGE_ID,
            channel.as_str(),
        )
    }

    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    pub fn event(&self) -> &Value {
        &self.event
    }
}
