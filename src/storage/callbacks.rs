//! The outbox of status callbacks: events written by a trigger in the transaction that
//! changed a message's status (see the `callbacks` migration), claimed here under a lease
//! by whichever worker posts them, then marked acknowledged, retried or given up.

use super::{Db, with_pool};

/// One event to post, with what the receiver is told.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CallbackEvent {
    pub id: String,
    pub url: String,
    pub intent_id: String,
    pub external_id: String,
    pub message_id: String,
    pub recipient_idx: i64,
    pub account_number: String,
    pub channel: String,
    pub status: String,
    pub occurred_at: i64,
    pub gateway: Option<String>,
    pub gateway_message_id: Option<String>,
    pub reason: Option<String>,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    /// The message is deemed received when sent.
    pub received_when_sent: bool,
    /// Including this one.
    pub attempts: i64,
    pub created_at: i64,
}

impl Db {
    /// Takes up to `limit` due events for `lease_ms`: not acknowledged, not given up, due,
    /// and not held by another worker's live lease. The lease check is repeated in the
    /// outer `WHERE` so that on PostgreSQL a row another worker took meanwhile is skipped.
    pub async fn claim_callbacks(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<CallbackEvent>> {
        let rows = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let ids = sqlx::query_as::<_, (String,)>(
                "UPDATE callback_events SET lease_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM callback_events \
                              WHERE acknowledged_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1 \
                              AND (lease_until IS NULL OR lease_until < $1) \
                              ORDER BY next_attempt_at LIMIT $3) \
                 AND acknowledged_at IS NULL AND gave_up_at IS NULL \
                 AND (lease_until IS NULL OR lease_until < $1) \
                 RETURNING id",
            )
            .bind(now)
            .bind(now + lease_ms)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut events = Vec::with_capacity(ids.len());
            for (id,) in ids {
                let event = sqlx::query_as::<_, CallbackEvent>(
                    "SELECT e.id, i.callback_url AS url, e.intent_id, i.external_id, e.message_id, \
                     m.recipient_idx, r.account_number, m.channel, e.status, e.occurred_at, e.gateway, \
                     e.gateway_message_id, e.reason, e.sent_at, e.delivered_at, m.received_when_sent, e.attempts, e.created_at \
                     FROM callback_events e JOIN intents i ON i.id = e.intent_id \
                     JOIN messages m ON m.id = e.message_id \
                     JOIN recipients r ON r.intent_id = m.intent_id AND r.idx = m.recipient_idx \
                     WHERE e.id = $1",
                )
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
                events.push(event);
            }
            tx.commit().await?;
            anyhow::Ok(events)
        })?;
        Ok(rows)
    }

    /// The receiver took the event (2xx).
    pub async fn callback_acknowledged(&self, id: &str, now: i64) -> anyhow::Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE callback_events SET acknowledged_at = $2, lease_until = NULL, last_error = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Post again at `at` (epoch ms); `why` is kept.
    pub async fn callback_retry(&self, id: &str, at: i64, why: &str) -> anyhow::Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE callback_events SET next_attempt_at = $2, lease_until = NULL, last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .bind(why)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Stop trying: a refusal (4xx) or the retry period ran out.
    pub async fn callback_gave_up(&self, id: &str, now: i64, why: &str) -> anyhow::Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE callback_events SET gave_up_at = $2, lease_until = NULL, last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(why)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}
