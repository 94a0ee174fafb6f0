//! Delivery receipts: every gateway report kept raw, and the first final status applied.

use sha2::{Digest, Sha256};

use super::ledger::NewEntry;
use super::{Db, Dialect, now_ms, with_pool};
use crate::ledger::Fact;

/// A gateway's report about one message, as parsed from its webhook or status poll.
#[derive(Debug, Clone)]
pub struct NewReceipt<'a> {
    pub gateway: &'a str,
    pub provider_message_id: &'a str,
    /// `delivered`, `failed`, `expired` or `pending`.
    pub status: &'a str,
    pub provider_status: &'a str,
    pub provider_time: Option<i64>,
    pub raw: &'a str,
    /// Why, in the provider's or our words (returned unclaimed, pages missing).
    pub reason: Option<&'a str>,
    /// The stored return-receipt scan, if the provider sent one.
    pub evidence_sha256: Option<&'a str>,
    /// For a `retry` report (fax busy): when to send again, and the attempts after which
    /// the message fails instead.
    pub retry_at: i64,
    pub max_attempts: i64,
    /// Recipients per delivery job, for the job that sends a retried message.
    pub batch: i64,
}

/// The message a report is about (see [`Db::receipt_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptMessage {
    pub id: String,
    pub intent_id: String,
    /// A step of its recipient's legal-notice chain.
    pub legal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Recorded; `applied` says whether it changed the message's status. When it made a
    /// legal notice delivered: its channel and the time left to the deadline (ms).
    Recorded {
        applied: bool,
        deadline_margin: Option<(String, i64)>,
    },
    /// The same report was recorded before.
    Duplicate,
    /// No message of this gateway has that id (yet).
    UnknownMessage,
}

impl Db {
    /// Keeps the report as evidence and applies it if it is the message's first final
    /// status: a late `pending` never overwrites `delivered`, nor `failed` a `delivered`.
    pub async fn record_receipt(&self, receipt: &NewReceipt<'_>) -> anyhow::Result<ReceiptOutcome> {
        let Some(message) = self
            .receipt_message(receipt.gateway, receipt.provider_message_id)
            .await?
        else {
            return Ok(ReceiptOutcome::UnknownMessage);
        };
        let mut outcomes = self.record_receipts(&[(receipt.clone(), message)]).await?;
        Ok(outcomes.remove(0))
    }

    /// The message a gateway's report is about, if we know it. Looked up before the
    /// transaction that records the report: on SQLite a transaction that reads first
    /// cannot upgrade to a write once another connection has committed meanwhile.
    pub async fn receipt_message(
        &self,
        gateway: &str,
        provider_message_id: &str,
    ) -> anyhow::Result<Option<ReceiptMessage>> {
        let found = with_pool!(self, pool => sqlx::query_as::<_, (String, String, Option<i64>)>(
            "SELECT id, intent_id, legal_step FROM messages WHERE gateway = $1 AND gateway_message_id = $2",
        )
        .bind(gateway)
        .bind(provider_message_id)
        .fetch_optional(pool)
        .await)?;
        Ok(found.map(|(id, intent_id, legal_step)| ReceiptMessage {
            id,
            intent_id,
            legal: legal_step.is_some(),
        }))
    }

    /// [`Db::record_receipt`] for several reports, each with its message from
    /// [`Db::receipt_message`], in one transaction and in order, with one ledger append:
    /// on SQLite's one writer a transaction per report is what limits how many reports a
    /// second can be kept. One outcome per report, in the same order.
    pub async fn record_receipts(
        &self,
        receipts: &[(NewReceipt<'_>, ReceiptMessage)],
    ) -> anyhow::Result<Vec<ReceiptOutcome>> {
        let now = now_ms();
        with_pool!(self, pool => {
            let mut outcomes = Vec::with_capacity(receipts.len());
            let mut entries = Vec::new();
            let mut tx = pool.begin().await?;
            for (receipt, message) in receipts {
                let (message_id, intent_id) = (&message.id, &message.intent_id);
                let raw_sha256 = hex::encode(Sha256::digest(receipt.raw.as_bytes()));
                let id = uuid::Uuid::now_v7().to_string();
                let inserted = sqlx::query(
                    "INSERT INTO receipts (id, message_id, gateway, provider_message_id, status, provider_status, \
                     provider_time, received_at, raw, raw_sha256, created_at, reason, evidence_sha256) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $11, $12) \
                     ON CONFLICT (gateway, provider_message_id, provider_status) DO NOTHING",
                )
                .bind(&id)
                .bind(message_id)
                .bind(receipt.gateway)
                .bind(receipt.provider_message_id)
                .bind(receipt.status)
                .bind(receipt.provider_status)
                .bind(receipt.provider_time)
                .bind(now)
                .bind(receipt.raw)
                .bind(&raw_sha256)
                .bind(receipt.reason)
                .bind(receipt.evidence_sha256)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    outcomes.push(ReceiptOutcome::Duplicate);
                    continue;
                }
                let applied = match receipt.status {
                    "delivered" => sqlx::query(
                        "UPDATE messages SET status = 'delivered', delivered_at = $2, last_error = $4, updated_at = $3 \
                         WHERE id = $1 AND status IN ('sent', 'sending', 'queued', 'unconfirmed')",
                    )
                    .bind(message_id)
                    .bind(receipt.provider_time.unwrap_or(now))
                    .bind(now)
                    .bind(receipt.reason)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                    "failed" | "expired" => sqlx::query(
                        "UPDATE messages SET status = 'failed', last_error = $2, updated_at = $3 \
                         WHERE id = $1 AND status IN ('sent', 'sending', 'queued', 'unconfirmed')",
                    )
                    .bind(message_id)
                    .bind(match receipt.reason {
                        Some(why) => format!("gateway reported {} ({}): {why}", receipt.status, receipt.provider_status),
                        None => format!("gateway reported {} ({})", receipt.status, receipt.provider_status),
                    })
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                    // Busy, no answer: send again later, as after a transient send failure.
                    "retry" => {
                        let rows = sqlx::query_as::<_, (String, i64, Option<i64>)>(
                            "UPDATE messages SET \
                             status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'queued' END, \
                             next_attempt_at = $2, last_error = $5, updated_at = $3 \
                             WHERE id = $1 AND status IN ('sent', 'unconfirmed') \
                             RETURNING intent_id, recipient_idx, \
                             (SELECT r.deadline_at FROM recipients r WHERE r.intent_id = messages.intent_id AND r.idx = messages.recipient_idx)",
                        )
                        .bind(message_id)
                        .bind(receipt.retry_at)
                        .bind(now)
                        .bind(receipt.max_attempts)
                        .bind(format!("gateway asks to try again: {}", receipt.reason.unwrap_or(receipt.provider_status)))
                        .fetch_all(&mut *tx)
                        .await?;
                        let n = rows.len() as u64;
                        super::messages::push_range_jobs(&mut tx, rows, receipt.batch).await?;
                        n
                    }
                    _ => 0,
                } > 0;
                let mut deadline_margin = None;
                entries.push(NewEntry::about_message(now, intent_id, message_id, Fact::ReceiptRecorded {
                    receipt_id: id.clone(),
                    gateway: receipt.gateway.to_owned(),
                    status: receipt.status.to_owned(),
                    provider_status: receipt.provider_status.to_owned(),
                    provider_time: receipt.provider_time,
                    received_at: now,
                    raw_sha256: raw_sha256.clone(),
                    reason: receipt.reason.map(str::to_owned),
                    evidence_sha256: receipt.evidence_sha256.map(str::to_owned),
                    applied,
                }));
                // Only a legal notice has a deadline to report and a chain to end.
                if applied && receipt.status == "delivered" && message.legal {
                    deadline_margin = sqlx::query_as::<_, (String, i64)>(
                        "SELECT m.channel, r.deadline_at - m.delivered_at FROM messages m \
                         JOIN recipients r ON r.intent_id = m.intent_id AND r.idx = m.recipient_idx \
                         WHERE m.id = $1 AND m.legal_step IS NOT NULL AND r.deadline_at IS NOT NULL",
                    )
                    .bind(message_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    // A delivered legal notice ends its chain: the legal steps not yet sent
                    // (held, or queued behind a window or a retry) are no longer needed.
                    let reason = "not needed: the legal notice was delivered";
                    let cancelled = sqlx::query_as::<_, (String,)>(
                        "UPDATE messages SET status = 'cancelled', last_error = $3, \
                         updated_at = $2 WHERE status IN ('held', 'queued') AND legal_step IS NOT NULL \
                         AND (intent_id, recipient_idx) = (SELECT intent_id, recipient_idx FROM messages \
                                                           WHERE id = $1 AND legal_step IS NOT NULL) \
                         RETURNING id",
                    )
                    .bind(message_id)
                    .bind(now)
                    .bind(reason)
                    .fetch_all(&mut *tx)
                    .await?;
                    entries.extend(cancelled.into_iter().map(|(cancelled,)| {
                        NewEntry::about_message(now, intent_id, &cancelled, Fact::Cancelled { reason: reason.into() })
                    }));
                }
                outcomes.push(ReceiptOutcome::Recorded { applied, deadline_margin });
            }
            Dialect::append_ledger(&mut tx, entries, now).await?;
            tx.commit().await?;
            anyhow::Ok(outcomes)
        })
    }

    /// How many reports were kept for a message (evidence, including duplicates' first copy).
    pub async fn receipt_count(&self, message_id: &str) -> anyhow::Result<i64> {
        let (n,) = with_pool!(self, pool => sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM receipts WHERE message_id = $1")
            .bind(message_id)
            .fetch_one(pool)
            .await)?;
        Ok(n)
    }
}

/// How quickly one gateway's delivery reports came, over a stretch of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportDelays {
    /// Final reports that arrived in the stretch within the threshold of their send.
    pub prompt: u64,
    /// Sends whose threshold ran out in the stretch without a final report (whether it
    /// came later or never).
    pub late: u64,
}

impl Db {
    /// Counts `gateway`'s prompt and late delivery reports for the stretch `(from, to]`.
    /// Each message counts once: as prompt when its report arrives in time, as late when
    /// its time runs out first, so calling this for consecutive stretches counts every
    /// send once.
    pub async fn report_delays(
        &self,
        gateway: &str,
        from: i64,
        to: i64,
        threshold_ms: i64,
    ) -> anyhow::Result<ReportDelays> {
        let (prompt, late) = with_pool!(self, pool => {
            let (prompt,): (i64,) = sqlx::query_as(
                "SELECT COUNT(DISTINCT r.message_id) FROM receipts r JOIN messages m ON m.id = r.message_id \
                 WHERE r.gateway = $1 AND r.received_at > $2 AND r.received_at <= $3 \
                 AND r.status <> 'pending' AND r.received_at - m.sent_at <= $4",
            )
            .bind(gateway)
            .bind(from)
            .bind(to)
            .bind(threshold_ms)
            .fetch_one(pool)
            .await?;
            let (late,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM messages m \
                 WHERE m.gateway = $1 AND m.sent_at > $2 AND m.sent_at <= $3 \
                 AND NOT EXISTS (SELECT 1 FROM receipts r WHERE r.message_id = m.id \
                 AND r.status <> 'pending' AND r.received_at <= m.sent_at + $4)",
            )
            .bind(gateway)
            .bind(from - threshold_ms)
            .bind(to - threshold_ms)
            .bind(threshold_ms)
            .fetch_one(pool)
            .await?;
            anyhow::Ok((prompt, late))
        })?;
        Ok(ReportDelays {
            prompt: prompt as u64,
            late: late as u64,
        })
    }
}

/// A message whose gateway is asked for its status.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PollDue {
    pub id: String,
    pub gateway_message_id: String,
    /// The recipient's details (JSON): the phone or fax number some providers need.
    pub details: String,
}

impl Db {
    /// Up to `limit` messages `gateway` accepted, with no final report yet, not asked
    /// about since `asked_before` (epoch ms); marks them asked at `now`. Two sweepers may
    /// rarely ask about the same message; a duplicate report is recorded once.
    pub async fn due_for_poll(
        &self,
        gateway: &str,
        asked_before: i64,
        now: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<PollDue>> {
        let rows = with_pool!(self, pool => {
            let rows = sqlx::query_as::<_, PollDue>(
                "SELECT m.id, m.gateway_message_id, CAST(r.details AS TEXT) AS details \
                 FROM messages m JOIN recipients r ON r.intent_id = m.intent_id AND r.idx = m.recipient_idx \
                 WHERE m.gateway = $1 AND m.status = 'sent' AND m.updated_at <= $2 \
                 AND m.gateway_message_id <> '' ORDER BY m.updated_at LIMIT $3",
            )
            .bind(gateway)
            .bind(asked_before)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            for row in &rows {
                sqlx::query("UPDATE messages SET updated_at = $2 WHERE id = $1 AND status = 'sent'")
                    .bind(&row.id)
                    .bind(now)
                    .execute(pool)
                    .await?;
            }
            anyhow::Ok(rows)
        })?;
        Ok(rows)
    }
}
