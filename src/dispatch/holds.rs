//! Why a claimed message may not go out yet: its sending window is closed, or the customer
//! has been contacted as often as the law allows. Either way it waits (a deferral is not a
//! failed attempt) and is never dropped.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tracing::error;

use super::{CachedIntent, Dispatcher};

/// This claim's messages let through so far, by account number and limit name.
pub(super) type Admitted = std::collections::HashMap<(String, String), u32>;
use crate::plans::{Periods, SentCounts};
use crate::recipients::{Channel, CustomerType};
use crate::storage::{Claimed, Outcome, OutcomeStatus, RecipientRow};

impl Dispatcher {
    /// A deferral if the customer was already contacted as often as the law allows this
    /// day, week or month (230-FZ for debt messages to individuals, by default).
    /// `admitted` counts, per account and limit, this claim's messages already let through:
    /// the database does not count this claim's own (several recipients may share an
    /// account, and each must not see the others as sent before any is).
    pub(super) async fn over_contact_limit(
        &self,
        intent: &CachedIntent,
        message: &Claimed,
        recipient: &RecipientRow,
        now: DateTime<Utc>,
        claim_id: &str,
        admitted: &mut Admitted,
    ) -> anyhow::Result<Option<Outcome>> {
        let (Some(channel), Some(customer_type), Ok(tz)) = (
            Channel::parse(&message.channel),
            CustomerType::parse(&recipient.customer_type),
            recipient.time_zone.parse::<Tz>(),
        ) else {
            return Ok(None);
        };
        let Some(limit) = self
            .rulebook
            .plans
            .frequency_limit(intent.kind, customer_type, channel)
        else {
            return Ok(None);
        };
        let Some(periods) = Periods::around(now, tz) else {
            return Ok(None);
        };
        let channels: Vec<&str> = limit.channels.iter().map(|c| c.as_str()).collect();
        let since = [periods.day, periods.week, periods.month].map(|t| t.timestamp_millis());
        let [day, week, month] = self
            .db
            .sent_to_account(
                &recipient.account_number,
                intent.kind.as_str(),
                &channels,
                since,
                claim_id,
            )
            .await?;
        let key = (recipient.account_number.clone(), limit.name.clone());
        let ours = i64::from(admitted.get(&key).copied().unwrap_or(0));
        let n = |sent: i64| u32::try_from(sent + ours).unwrap_or(u32::MAX);
        let counts = SentCounts {
            day: n(day),
            week: n(week),
            month: n(month),
        };
        match limit.wait(counts, &periods) {
            None => {
                // Counted as sent from here on, even if it then fails to render: never over.
                *admitted.entry(key).or_default() += 1;
                Ok(None)
            }
            Some(at) => Ok(Some(Outcome::new(
                &message.id,
                OutcomeStatus::Deferred {
                    at: at.timestamp_millis(),
                },
                Some(format!("waiting: {} reached for this customer", limit.name)),
            ))),
        }
    }

    /// A deferral if the message's sending window is closed now (quiet hours, days off).
    pub(super) fn outside_window(
        &self,
        intent: &CachedIntent,
        message: &Claimed,
        recipient: Option<&RecipientRow>,
        now: DateTime<Utc>,
    ) -> Option<Outcome> {
        let recipient = recipient?;
        let channel = Channel::parse(&message.channel)?;
        let customer_type = CustomerType::parse(&recipient.customer_type)?;
        let tz: Tz = recipient.time_zone.parse().ok()?;
        let region = recipient.details.0["region"].as_str();
        let (at, why) = match self.rulebook.plans.window_wait(
            self.rulebook.calendar_for(region),
            intent.kind,
            customer_type,
            channel,
            tz,
            now,
        ) {
            Ok(None) => return None,
            Ok(Some((at, window))) => (at, format!("waiting for the sending window: {window}")),
            // A calendar that ends too soon must not let a notice go out on a holiday.
            Err(e) => {
                error!(message_id = %message.id, error = %e, "cannot check the sending window");
                (
                    now + chrono::Duration::hours(1),
                    format!("sending window unknown: {e}"),
                )
            }
        };
        Some(Outcome::new(
            &message.id,
            OutcomeStatus::Deferred {
                at: at.timestamp_millis(),
            },
            Some(why),
        ))
    }
}
