//! Status callbacks: upstream systems hear of every status change of their messages
//! (`sent`, `delivered`, `failed`, `unconfirmed`, `escalated`) instead of polling.
//!
//! An intent names a [`CallbackUrl`]. A trigger writes each status change of its messages
//! into the `callback_events` outbox in the same transaction as the change. The
//! [`deliver`] task in every worker claims due events under a lease and POSTs each as
//! JSON, signed (see [`signature`]); connection errors, timeouts, 5xx and 429 are retried
//! with backoff for `callbacks.retry_for`, other answers end the event. Delivery is
//! at-least-once: a receiver de-duplicates by `event_id`. It runs beside dispatch and
//! never holds it up: a slow receiver only delays its own events.

pub mod deliver;
pub mod signature;
mod url;

pub use url::CallbackUrl;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::storage::CallbackEvent;

/// The JSON body of one callback.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    /// Unique per status change; the same on every retry of it.
    pub event_id: &'a str,
    pub intent_id: &'a str,
    pub external_id: &'a str,
    pub recipient: Recipient<'a>,
    pub message_id: &'a str,
    pub channel: &'a str,
    /// `sent`, `delivered`, `failed`, `unconfirmed` or `escalated` (a held legal step started).
    pub status: &'a str,
    /// When the status changed.
    pub occurred_at: String,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    pub gateway: Option<&'a str>,
    pub gateway_message_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// A legal notice deemed received when sent (Decree 442: a contact the contract
    /// names): its `sent` is final, no `delivered` need follow.
    pub received_when_sent: bool,
    /// This post's attempt number, from 1.
    pub attempt: i64,
}

/// The recipient as the caller knows it: its place in the request and its account.
#[derive(Debug, Serialize)]
pub struct Recipient<'a> {
    pub recipient_id: i64,
    pub account_number: &'a str,
}

impl<'a> From<&'a CallbackEvent> for Payload<'a> {
    fn from(e: &'a CallbackEvent) -> Self {
        Payload {
            event_id: &e.id,
            intent_id: &e.intent_id,
            external_id: &e.external_id,
            recipient: Recipient {
                recipient_id: e.recipient_idx,
                account_number: &e.account_number,
            },
            message_id: &e.message_id,
            channel: &e.channel,
            status: &e.status,
            occurred_at: rfc3339(e.occurred_at),
            sent_at: e.sent_at.map(rfc3339),
            delivered_at: e.delivered_at.map(rfc3339),
            gateway: e.gateway.as_deref(),
            gateway_message_id: e.gateway_message_id.as_deref(),
            reason: e.reason.as_deref(),
            received_when_sent: e.received_when_sent,
            attempt: e.attempts,
        }
    }
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}
