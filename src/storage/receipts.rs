//! Delivery receipts: every gateway report kept raw, and the first final status applied.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::ledger::NewEntry;
use super::receipt_groups::{FinalRows, GroupStatements, ReceiptRows};
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
        if receipts.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let n = receipts.len();
        let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let raw_sha256: Vec<String> = receipts
            .iter()
            .map(|(r, _)| hex::encode(Sha256::digest(r.raw.as_bytes())))
            .collect();
        let errors: Vec<Option<String>> = receipts.iter().map(|(r, _)| last_error(r)).collect();
        // 13 parameters a receipt: SQLite takes 32,766 in one statement.
        anyhow::ensure!(n <= 2_000, "{n} reports in one group; at most 2,000");
        let columns = ReceiptRows {
            id: ids.iter().map(String::as_str).collect(),
            message_id: receipts.iter().map(|(_, m)| m.id.as_str()).collect(),
            gateway: receipts.iter().map(|(r, _)| r.gateway).collect(),
            provider_message_id: receipts
                .iter()
                .map(|(r, _)| r.provider_message_id)
                .collect(),
            status: receipts.iter().map(|(r, _)| r.status).collect(),
            provider_status: receipts.iter().map(|(r, _)| r.provider_status).collect(),
            provider_time: receipts.iter().map(|(r, _)| r.provider_time).collect(),
            raw: receipts.iter().map(|(r, _)| r.raw).collect(),
            raw_sha256: raw_sha256.iter().map(String::as_str).collect(),
            reason: receipts.iter().map(|(r, _)| r.reason).collect(),
            evidence_sha256: receipts.iter().map(|(r, _)| r.evidence_sha256).collect(),
        };
        // A group is a few statements whatever its size: one round trip per report and
        // statement is what limited PostgreSQL to ~800 reports a second.
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Several `serve` instances may record reports about the same messages. The
            // statements below lock rows in their plan's order (and the receipts' unique
            // keys in the group's); locking the group's messages first makes two groups
            // wait for each other instead of deadlocking.
            GroupStatements::lock_messages(&mut tx, &columns.message_id).await?;
            let new = GroupStatements::insert_receipts(&mut tx, &columns, now).await?;

            // In rounds of at most one report per message, in arrival order, so a
            // message's first final report is the one applied.
            let mut applied = vec![false; n];
            let mut margins: Vec<Option<(String, i64)>> = vec![None; n];
            let mut cancelled: Vec<Vec<String>> = vec![Vec::new(); n];
            let mut pending: Vec<usize> = (0..n).filter(|&i| new.contains(&ids[i])).collect();
            while !pending.is_empty() {
                let mut seen = HashSet::new();
                let (round, later): (Vec<usize>, Vec<usize>) =
                    pending.iter().partition(|&&i| seen.insert(receipts[i].1.id.as_str()));
                pending = later;
                let finals: Vec<usize> = round
                    .iter()
                    .copied()
                    .filter(|&i| matches!(receipts[i].0.status, "delivered" | "failed" | "expired"))
                    .collect();
                if !finals.is_empty() {
                    let mut to_apply = FinalRows::default();
                    for &i in &finals {
                        let (r, m) = &receipts[i];
                        to_apply.message_id.push(&m.id);
                        to_apply.provider_message_id.push(r.provider_message_id);
                        to_apply.status.push(if r.status == "delivered" { "delivered" } else { "failed" });
                        to_apply.at.push(r.provider_time.unwrap_or(now));
                        to_apply.error.push(errors[i].as_deref());
                    }
                    let changed = GroupStatements::apply_finals(&mut tx, &to_apply, now).await?;
                    for &i in &finals {
                        applied[i] = changed.contains(&receipts[i].1.id);
                    }
                }
                // Busy, no answer: send again later, as after a transient send failure.
                // Rare (fax), so one statement each. Not a notice deemed received when
                // sent: the law counts it received, its chain is over, and sending it again
                // would move the send time its proof rests on.
                for &i in round.iter().filter(|&&i| receipts[i].0.status == "retry") {
                    let receipt = &receipts[i].0;
                    let rows = sqlx::query_as::<_, (String, i64, Option<i64>)>(
                        "UPDATE messages SET \
                         status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'queued' END, \
                         next_attempt_at = $2, last_error = $5, updated_at = $3 \
                         WHERE id = $1 AND status IN ('sent', 'unconfirmed') AND gateway_message_id = $6 \
                         AND NOT received_when_sent \
                         RETURNING intent_id, recipient_idx, \
                         (SELECT r.deadline_at FROM recipients r WHERE r.intent_id = messages.intent_id AND r.idx = messages.recipient_idx)",
                    )
                    .bind(&receipts[i].1.id)
                    .bind(receipt.retry_at)
                    .bind(now)
                    .bind(receipt.max_attempts)
                    .bind(&errors[i])
                    .bind(receipt.provider_message_id)
                    .fetch_all(&mut *tx)
                    .await?;
                    applied[i] = !rows.is_empty();
                    super::messages::push_range_jobs(&mut tx, rows, receipt.batch).await?;
                }
                // Only a delivered legal notice has a deadline to report and a chain to
                // end; ended after each round, as the reports came.
                let delivered_legal: Vec<usize> = round
                    .iter()
                    .copied()
                    .filter(|&i| applied[i] && receipts[i].0.status == "delivered" && receipts[i].1.legal)
                    .collect();
                if !delivered_legal.is_empty() {
                    let by_message: HashMap<&str, usize> =
                        delivered_legal.iter().map(|&i| (receipts[i].1.id.as_str(), i)).collect();
                    let delivered_ids: Vec<&str> =
                        delivered_legal.iter().map(|&i| receipts[i].1.id.as_str()).collect();
                    let rows = GroupStatements::legal_margins(&mut tx, &delivered_ids).await?;
                    let mut chains: HashMap<(String, i64), usize> = HashMap::new();
                    for (id, channel, recipient_idx, margin) in rows {
                        let i = by_message[id.as_str()];
                        margins[i] = margin.map(|m| (channel, m));
                        // Two steps of one chain delivered together: the first ends it.
                        chains
                            .entry((receipts[i].1.intent_id.clone(), recipient_idx))
                            .and_modify(|first| *first = (*first).min(i))
                            .or_insert(i);
                    }
                    // A delivered legal notice ends its chain: the legal steps not yet sent
                    // (held, or queued behind a window or a retry) are no longer needed.
                    let rows = GroupStatements::end_chains(&mut tx, &delivered_ids, CHAIN_DONE, now).await?;
                    for (id, intent_id, recipient_idx) in rows {
                        let i = *chains.get(&(intent_id, recipient_idx)).ok_or_else(|| {
                            anyhow::anyhow!("cancelled message {id} belongs to no delivered notice of the group")
                        })?;
                        cancelled[i].push(id);
                    }
                }
            }

            let mut outcomes = Vec::with_capacity(n);
            let mut entries = Vec::new();
            for (i, (receipt, message)) in receipts.iter().enumerate() {
                if !new.contains(&ids[i]) {
                    outcomes.push(ReceiptOutcome::Duplicate);
                    continue;
                }
                let intent_id = &message.intent_id;
                entries.push(NewEntry::about_message(now, intent_id, &message.id, Fact::ReceiptRecorded {
                    receipt_id: ids[i].clone(),
                    gateway: receipt.gateway.to_owned(),
                    status: receipt.status.to_owned(),
                    provider_status: receipt.provider_status.to_owned(),
                    provider_time: receipt.provider_time,
                    received_at: now,
                    raw_sha256: raw_sha256[i].clone(),
                    reason: receipt.reason.map(str::to_owned),
                    evidence_sha256: receipt.evidence_sha256.map(str::to_owned),
                    applied: applied[i],
                }));
                entries.extend(cancelled[i].iter().map(|id| {
                    NewEntry::about_message(now, intent_id, id, Fact::Cancelled { reason: CHAIN_DONE.into() })
                }));
                outcomes.push(ReceiptOutcome::Recorded {
                    applied: applied[i],
                    deadline_margin: margins[i].take(),
                });
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
                "SELECT m.id, m.gateway_message_id, r.details \
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

/// Why the later steps of a legal chain were cancelled.
const CHAIN_DONE: &str = "not needed: the legal notice was delivered";

/// What a report writes as the message's `last_error`.
fn last_error(receipt: &NewReceipt<'_>) -> Option<String> {
    let (status, provider_status) = (receipt.status, receipt.provider_status);
    match (status, receipt.reason) {
        ("delivered", reason) => reason.map(str::to_owned),
        ("failed" | "expired", Some(why)) => Some(format!(
            "gateway reported {status} ({provider_status}): {why}"
        )),
        ("failed" | "expired", None) => {
            Some(format!("gateway reported {status} ({provider_status})"))
        }
        ("retry", reason) => Some(format!(
            "gateway asks to try again: {}",
            reason.unwrap_or(provider_status)
        )),
        _ => None,
    }
}
