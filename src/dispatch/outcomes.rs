//! What one attempt came to, as the outcome recorded for its message: sent, retried
//! with backoff, deferred, failed, or given up; and the send's metrics.

use std::time::Duration;

use rand::Rng;
use tracing::warn;

use super::Dispatcher;
use crate::channels::SendResult;
use crate::channels::routes::Sent;
use crate::recipients::Channel;
use crate::storage::{Claimed, Outcome, OutcomeStatus};

impl Dispatcher {
    /// Counts one send in the metrics: its latency when a gateway answered, its class
    /// when it failed.
    pub(super) fn observe(&self, channel: Channel, sent: &Sent) {
        let gateway = sent.gateway.as_deref().unwrap_or("none");
        let class = match &sent.result {
            SendResult::Accepted { .. } => None,
            SendResult::Transient(_) => Some("transient"),
            SendResult::Permanent(_) => Some("permanent"),
            SendResult::Unavailable { .. } => Some("circuit_open"),
        };
        if sent.gateway.is_some() {
            self.metrics.sent(channel, gateway, sent.elapsed);
        }
        if let Some(class) = class {
            self.metrics.gateway_error(channel, gateway, class);
        }
    }

    /// A message that never reached a gateway (its letter could not be made): failed, or
    /// retried as a transient send failure is, within `max_attempts`.
    pub(super) fn not_sent(&self, message: &Claimed, why: SendResult) -> Outcome {
        let sent = Sent {
            gateway: None,
            result: why,
            elapsed: Duration::ZERO,
        };
        self.outcome(message, sent, None)
    }

    pub(super) fn outcome(
        &self,
        message: &Claimed,
        sent: Sent,
        template: Option<String>,
    ) -> Outcome {
        let mut outcome = match sent.result {
            SendResult::Accepted {
                gateway_message_id,
                content_sha256,
                content,
                exchange,
            } => Outcome {
                exchange,
                gateway_message_id: Some(gateway_message_id),
                content_sha256: Some(content_sha256),
                // Letters are kept in the documents store under that hash already.
                content: (!matches!(message.channel.as_str(), "mail" | "fax")).then_some(content),
                ..Outcome::new(&message.id, OutcomeStatus::Sent, None)
            },
            SendResult::Permanent(why) => failed(message, why),
            SendResult::Unavailable { retry_in, why } => Outcome::new(
                &message.id,
                OutcomeStatus::Deferred {
                    at: self.clock.now_ms() + retry_in.as_millis() as i64,
                },
                Some(why),
            ),
            SendResult::Transient(why)
                if message.attempts >= i64::from(self.settings.max_attempts) =>
            {
                failed(
                    message,
                    format!("gave up after {} attempts: {why}", message.attempts),
                )
            }
            SendResult::Transient(why) => {
                warn!(message_id = %message.id, attempts = message.attempts, error = %why, "transient send failure");
                Outcome::new(
                    &message.id,
                    OutcomeStatus::Retry {
                        at: self.clock.now_ms() + self.backoff(message.attempts).as_millis() as i64,
                    },
                    Some(why),
                )
            }
        };
        outcome.gateway = sent.gateway;
        outcome.template = template;
        outcome
    }

    /// Exponential backoff with full jitter: spreads retries of a failed batch so a
    /// recovering gateway is not hit by all of them at once.
    fn backoff(&self, attempts: i64) -> Duration {
        let exp = attempts.clamp(1, 20) as u32 - 1;
        let cap = self.settings.backoff_max_secs * 1000;
        let ceiling = self
            .settings
            .backoff_base_ms
            .saturating_mul(1 << exp)
            .min(cap)
            .max(1);
        Duration::from_millis(rand::rng().random_range(ceiling / 2..=ceiling))
    }
}

/// A message whose claims ended with no outcome more than `dispatch.max_lost_claims` times
/// (killed workers, or an error after the claim that recurs): without this it would be
/// claimed, and perhaps sent, forever. It is not sent again.
pub(super) fn given_up(message: &Claimed) -> Outcome {
    let why = format!(
        "gave up after {} claims that ended without an outcome \
         (a worker stopped, or an error after the claim)",
        message.lost_claims
    );
    failed(message, why)
}

pub(super) fn failed(message: &Claimed, why: String) -> Outcome {
    warn!(message_id = %message.id, error = %why, "message failed permanently");
    Outcome::new(&message.id, OutcomeStatus::Failed, Some(why))
}
