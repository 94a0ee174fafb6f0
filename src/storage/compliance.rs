//! Reads for compliance: who is near their legal deadline without a delivered notice.

use super::{Db, with_pool};

/// A legal-notice message `m` that reached the recipient: delivered, or sent where it is
/// deemed received when sent (`messages.received_when_sent`).
const RECEIVED: &str = "m.legal_step IS NOT NULL AND (m.status = 'delivered' OR (m.received_when_sent AND m.sent_at IS NOT NULL))";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AtRiskRow {
    pub intent_id: String,
    pub external_id: String,
    pub kind: String,
    pub recipient_idx: i64,
    pub account_number: String,
    pub customer_type: String,
    pub deadline_at: i64,
    /// Legal messages already handed to a gateway (sent, unconfirmed).
    pub legal_sent: i64,
}

impl Db {
    /// Recipients whose deadline is before `until` (epoch ms; already-passed ones too) and
    /// none of whose legal-notice messages reached them, soonest first.
    pub async fn at_risk(
        &self,
        until: i64,
        client: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<AtRiskRow>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, AtRiskRow>(sqlx::AssertSqlSafe(format!(
            "SELECT r.intent_id, i.external_id, i.kind, r.idx AS recipient_idx, r.account_number, r.customer_type, \
             r.deadline_at, \
             (SELECT COUNT(*) FROM messages s WHERE s.intent_id = r.intent_id AND s.recipient_idx = r.idx \
              AND s.legal_step IS NOT NULL AND s.status = 'sent') AS legal_sent \
             FROM recipients r JOIN intents i ON i.id = r.intent_id \
             WHERE r.deadline_at IS NOT NULL AND r.deadline_at <= $1 AND ($2 IS NULL OR i.client = $2) \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.intent_id = r.intent_id AND m.recipient_idx = r.idx \
                             AND {RECEIVED}) \
             ORDER BY r.deadline_at LIMIT $3"
        )))
        .bind(until)
        .bind(client)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }
}

impl Db {
    /// How many recipients [`Db::at_risk`] would list up to `until`, for the metrics.
    pub async fn at_risk_count(&self, until: i64) -> anyhow::Result<i64> {
        let (n,) = with_pool!(self, pool => sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM recipients r \
             WHERE r.deadline_at IS NOT NULL AND r.deadline_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.intent_id = r.intent_id AND m.recipient_idx = r.idx \
                             AND {RECEIVED})"
        )))
        .bind(until)
        .fetch_one(pool)
        .await)?;
        Ok(n)
    }

    /// Messages not yet handed over, by channel and state (`held`, `queued`, `retrying`,
    /// `running`), for the metrics.
    pub async fn messages_in_flight(&self) -> anyhow::Result<Vec<(String, String, i64)>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, (String, String, i64)>(
            "SELECT channel, CASE WHEN status = 'sending' THEN 'running' \
             WHEN status = 'held' THEN 'held' WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END AS state, \
             COUNT(*) FROM messages WHERE status IN ('held', 'queued', 'sending') GROUP BY 1, 2",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Messages of `kind` on `channels` sent (or being sent) to `account_number` since each
    /// of `since` (day, week, month starts, epoch ms), not counting those claim `claim_id`
    /// is sending (its worker counts them as it admits them) nor those of later claims:
    /// what contact limits count.
    pub async fn sent_to_account(
        &self,
        account_number: &str,
        kind: &str,
        channels: &[&str],
        since: [i64; 3],
        claim_id: &str,
    ) -> anyhow::Result<[i64; 3]> {
        // ",sms,email," — one bound text instead of a variable-length IN list.
        let channel_list = format!(",{},", channels.join(","));
        let (day, week, month) = with_pool!(self, pool => sqlx::query_as::<_, (Option<i64>, Option<i64>, Option<i64>)>(
            // Messages being sent right now (claimed by another worker) count as sent at the
            // moment of their claim, so two workers do not both take the last slot; but only
            // earlier claims' (claim ids are UUIDv7, ordered by time as text), or two claims
            // would each defer for the other, to the next day, and again the day after.
            "SELECT SUM(CASE WHEN COALESCE(m.sent_at, m.updated_at) >= $4 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN COALESCE(m.sent_at, m.updated_at) >= $5 THEN 1 ELSE 0 END), COUNT(m.id) \
             FROM recipients r \
             JOIN intents i ON i.id = r.intent_id \
             JOIN messages m ON m.intent_id = r.intent_id AND m.recipient_idx = r.idx \
             WHERE r.account_number = $1 AND i.kind = $2 AND $3 LIKE '%,' || m.channel || ',%' \
             AND NOT (m.status = 'sending' AND m.claim_id >= $7) \
             AND ((m.sent_at IS NOT NULL AND m.sent_at >= $6) OR (m.status = 'sending' AND m.updated_at >= $6))",
        )
        .bind(account_number)
        .bind(kind)
        .bind(&channel_list)
        .bind(since[0])
        .bind(since[1])
        .bind(since[2])
        .bind(claim_id)
        .fetch_one(pool)
        .await)?;
        Ok([day.unwrap_or(0), week.unwrap_or(0), month.unwrap_or(0)])
    }
}
