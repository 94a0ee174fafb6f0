//! What the ledger records: one variant per kind of fact, serialised as
//! `"kind": "<snake_case name>", "data": {…}`. Absent values are `null`. No floats: every
//! number is an integer (times in epoch ms), so the canonical form is what `jq -cS` prints.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deadlines::{Deadline, EventMoment};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Fact {
    /// An intent was accepted: who sent it and the SHA-256 of the request body as received.
    IntentAccepted {
        client: String,
        external_id: String,
        kind: String,
        request_sha256: String,
        recipients: i64,
        messages: i64,
        accept_late: bool,
    },
    /// The legal deadline of a group of the intent's recipients, the rule that gave it and
    /// the inputs it was computed from.
    DeadlineComputed(DeadlineFact),
    /// One attempt to hand a message to a gateway and its result: `sent` (accepted),
    /// `retry` (a transient failure) or `failed` (for good). For a sent message, the
    /// template version, the SHA-256 of the exact bytes handed over, and the SHA-256 of
    /// the request and of the gateway's answer as they went over the wire.
    MessageAttempt {
        channel: String,
        attempt: i64,
        outcome: String,
        template: Option<String>,
        gateway: Option<String>,
        gateway_message_id: Option<String>,
        content_sha256: Option<String>,
        request_sha256: Option<String>,
        response_sha256: Option<String>,
        error: Option<String>,
        /// Sent to a contact the contract names where the plan deems that received
        /// (Decree 442): a `sent` attempt is then the receipt itself. Absent when false,
        /// so entries made before it keep their hashes.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        received_when_sent: bool,
    },
    /// A gateway's report about a message, as received (`raw_sha256` is of the raw report),
    /// and whether it changed the message's status.
    ReceiptRecorded {
        receipt_id: String,
        gateway: String,
        status: String,
        provider_status: String,
        provider_time: Option<i64>,
        received_at: i64,
        raw_sha256: String,
        reason: Option<String>,
        evidence_sha256: Option<String>,
        applied: bool,
    },
    /// A held legal step was released to the queue (its latest start came, or the step
    /// before it failed or went unconfirmed).
    Escalated { legal_step: Option<i64> },
    /// A delivered legal notice made this held or queued step unnecessary.
    Cancelled { reason: String },
    /// Handed over long ago and never reported on: delivery is not proven.
    Unconfirmed { reason: String },
    /// The intent's personal data was removed after its retention period; the ledger
    /// keeps the hashes, so what was sent and when can still be proven.
    PersonalDataPurged { parts: Vec<String>, messages: i64 },
    /// An operator created a template version, or one was activated (`seed`, `activate`,
    /// `rollback`): which wording was live when is part of the proof.
    TemplateChanged {
        /// `kind/channel/locale`, as messages record it.
        template: String,
        version: i64,
        action: String,
        actor: String,
    },
}

impl Fact {
    /// The `kind` as stored in its own column.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::IntentAccepted { .. } => "intent_accepted",
            Fact::DeadlineComputed(_) => "deadline_computed",
            Fact::MessageAttempt { .. } => "message_attempt",
            Fact::ReceiptRecorded { .. } => "receipt_recorded",
            Fact::Escalated { .. } => "escalated",
            Fact::Cancelled { .. } => "cancelled",
            Fact::Unconfirmed { .. } => "unconfirmed",
            Fact::PersonalDataPurged { .. } => "personal_data_purged",
            Fact::TemplateChanged { .. } => "template_changed",
        }
    }
}

/// The deadline shared by some of an intent's recipients (one entry per distinct rule and
/// deadline, not one per recipient: an intent may have 100,000 recipients).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadlineFact {
    /// Recipient indexes as half-open ranges `[first, end)`.
    pub recipients: Vec<[i64; 2]>,
    pub customer_type: String,
    pub time_zone: String,
    /// The recipients' region (ISO 3166-2) whose calendar counted; absent when they named
    /// none, so entries made before regions keep their hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The event moment the deadline counts from, as the intent gave it.
    pub event: String,
    /// RFC 3339, in the recipient's offset.
    pub deadline: String,
    pub deadline_at: i64,
    /// The rule applied (kind, customer type, amount, unit, source, description).
    pub rule: Value,
    /// How the deadline day was found, in one sentence.
    pub summary: String,
}

/// Collects an intent's deadlines into one fact per distinct deadline and rule.
#[derive(Debug)]
pub struct DeadlineFacts {
    event: String,
    index: HashMap<(i64, String, Option<String>, String), usize>,
    facts: Vec<(DeadlineFact, Vec<i64>)>,
}

impl DeadlineFacts {
    pub fn new(event: &EventMoment) -> Self {
        let event = match serde_json::to_value(event) {
            Ok(Value::String(s)) => s,
            other => format!("{other:?}"),
        };
        Self {
            event,
            index: HashMap::new(),
            facts: Vec::new(),
        }
    }

    /// Notes recipient `idx`'s deadline (recipients come in index order).
    pub fn note(&mut self, idx: i64, deadline: &Deadline) {
        let key = (
            deadline.deadline_utc.timestamp_millis(),
            deadline.time_zone.clone(),
            deadline.region.clone(),
            deadline.rule.description.clone(),
        );
        let at = *self.index.entry(key).or_insert_with(|| {
            self.facts.push((
                DeadlineFact {
                    recipients: Vec::new(),
                    customer_type: deadline.rule.customer_type.as_str().to_owned(),
                    time_zone: deadline.time_zone.clone(),
                    region: deadline.region.clone(),
                    event: self.event.clone(),
                    deadline: deadline.deadline.to_rfc3339(),
                    deadline_at: deadline.deadline_utc.timestamp_millis(),
                    rule: serde_json::to_value(&deadline.rule).unwrap_or(Value::Null),
                    summary: deadline.explain.summary.clone(),
                },
                Vec::new(),
            ));
            self.facts.len() - 1
        });
        self.facts[at].1.push(idx);
    }

    pub fn finish(self) -> Vec<DeadlineFact> {
        self.facts
            .into_iter()
            .map(|(mut fact, idx)| {
                fact.recipients = ranges(&idx);
                fact
            })
            .collect()
    }
}

impl DeadlineFact {
    pub fn covers(&self, idx: i64) -> bool {
        self.recipients.iter().any(|[a, b]| *a <= idx && idx < *b)
    }
}

/// Sorted indexes as half-open ranges: `[0, 1, 2, 5]` → `[[0, 3], [5, 6]]`.
pub fn ranges(indexes: &[i64]) -> Vec<[i64; 2]> {
    let mut out: Vec<[i64; 2]> = Vec::new();
    for &i in indexes {
        match out.last_mut() {
            Some(last) if last[1] == i => last[1] = i + 1,
            _ => out.push([i, i + 1]),
        }
    }
    out
}
