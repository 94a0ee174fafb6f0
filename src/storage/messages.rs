//! The life of a message: claimed under a lease, then recorded as sent, retried or failed.
//!
//! The lease is what lets several workers share one database without sending twice: a
//! claim is one `UPDATE … RETURNING`, so exactly one worker gets each due message, and a
//! worker that dies mid-send loses its messages only when the lease runs out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::ledger::NewEntry;
use super::receipt_groups::GroupStatements;
use super::{Db, Dialect, with_pool};
use crate::channels::Exchange;
use crate::channels::profiles::SmsText;
use crate::ledger::Fact;
use crate::queue::{DELIVERY_QUEUE, DeliveryJob};

/// A message a worker now owns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: String,
    pub recipient_idx: i64,
    pub channel: String,
    /// Including this one.
    pub attempts: i64,
    /// Earlier claims of it that ended with no outcome (migration `lost_claims`).
    pub lost_claims: i64,
    /// Deemed received once sent: sending it ends its legal chain.
    pub received_when_sent: bool,
}

/// Why the later steps of a chain end when a notice deemed received is sent.
const RECEIVED_WHEN_SENT: &str = "not needed: the legal notice was sent to a contact the contract names (deemed received when sent)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeStatus {
    /// Handed to the gateway, which accepted it.
    Sent,
    /// A transient failure: try again at this time (epoch ms).
    Retry { at: i64 },
    /// A permanent failure: no retry.
    Failed,
    /// Not sent: outside its sending window until this time (epoch ms). Not an attempt.
    Deferred { at: i64 },
}

impl Outcome {
    /// An outcome with nothing from a gateway yet; callers fill in what they have.
    pub fn new(message_id: &str, status: OutcomeStatus, error: Option<String>) -> Self {
        Self {
            message_id: message_id.to_owned(),
            status,
            error,
            gateway: None,
            gateway_message_id: None,
            content_sha256: None,
            template: None,
            sms: None,
            content: None,
            exchange: Exchange::default(),
        }
    }
}

/// What one send attempt came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub message_id: String,
    pub status: OutcomeStatus,
    pub error: Option<String>,
    pub gateway: Option<String>,
    pub gateway_message_id: Option<String>,
    pub content_sha256: Option<String>,
    pub template: Option<String>,
    /// SMS only: how the operator encodes and bills it.
    pub sms: Option<SmsText>,
    /// The exact bytes handed over, when they are not a letter (letters are in the
    /// documents store under `content_sha256`).
    pub content: Option<Vec<u8>>,
    /// Digests of the request and the gateway's answer (for the ledger only).
    pub exchange: Exchange,
}

/// Columns of one row in the outcomes `VALUES` list, in order.
pub(super) const OUTCOME_COLUMNS: usize = 14;
const OUTCOME_CHUNK: usize = 1000;

/// `($1, …, $14), ($15, …)`: placeholders for `rows` outcome rows; with `numbered` false,
/// `(?, …)` for SQLite, which binds those by position. Numbered ones sqlx binds by name,
/// and SQLite finds each name by scanning the statement's list: O(parameters²), a third
/// of the server's CPU at 7,000 parameters (README "Performance").
pub(super) fn values_placeholders(rows: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(rows * OUTCOME_COLUMNS * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..OUTCOME_COLUMNS {
            if c > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * OUTCOME_COLUMNS + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

impl Db {
    /// Claims every due message of recipients `first..end`: queued ones whose time has come
    /// and ones whose previous owner's lease ran out.
    pub async fn claim(
        &self,
        intent_id: &str,
        first: i64,
        end: i64,
        lease: Duration,
        now: i64,
    ) -> anyhow::Result<(String, Vec<Claimed>)> {
        let lease_until = now + lease.as_millis() as i64;
        let claim_id = uuid::Uuid::now_v7().to_string();
        let rows = with_pool!(self, pool => sqlx::query_as::<_, Claimed>(
            // A claim taken over from a dead owner is a lost claim, not another attempt.
            "UPDATE messages SET status = 'sending', attempts = attempts + CASE WHEN status = 'sending' THEN 0 ELSE 1 END, \
             lease_until = $4, updated_at = $5, \
             claim_id = $6, lost_claims = lost_claims + CASE WHEN status = 'sending' THEN 1 ELSE 0 END \
             WHERE intent_id = $1 AND recipient_idx >= $2 AND recipient_idx < $3 \
             AND ((status = 'queued' AND next_attempt_at <= $5) OR (status = 'sending' AND lease_until < $5)) \
             RETURNING id, recipient_idx, channel, attempts, lost_claims, received_when_sent",
        )
        .bind(intent_id)
        .bind(first)
        .bind(end)
        .bind(lease_until)
        .bind(now)
        .bind(&claim_id)
        .fetch_all(pool)
        .await)?;
        Ok((claim_id, rows))
    }

    /// Extends the lease of a claim still at work (a slow gateway must not let another
    /// worker take its messages and send them a second time).
    pub async fn renew_lease(&self, claim_id: &str, until: i64) -> anyhow::Result<()> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE messages SET lease_until = $2 WHERE claim_id = $1 AND status = 'sending'",
        )
        .bind(claim_id)
        .bind(until)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// When the earliest queued-but-not-yet-due message of recipients `first..end` is due.
    pub async fn next_due(
        &self,
        intent_id: &str,
        first: i64,
        end: i64,
    ) -> anyhow::Result<Option<i64>> {
        let (at,) = with_pool!(self, pool => sqlx::query_as::<_, (Option<i64>,)>(
            "SELECT MIN(next_attempt_at) FROM messages \
             WHERE intent_id = $1 AND recipient_idx >= $2 AND recipient_idx < $3 AND status = 'queued'",
        )
        .bind(intent_id)
        .bind(first)
        .bind(end)
        .fetch_one(pool)
        .await)?;
        Ok(at)
    }

    /// Queues `job` to run after `delay`.
    pub async fn push_job(&self, job: &DeliveryJob, delay: Duration) -> anyhow::Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            Dialect::push_jobs(&mut tx, DELIVERY_QUEUE, vec![job.to_task(Some(delay))]).await?;
            tx.commit().await?;
            anyhow::Ok(())
        })
    }

    /// Records the outcomes of one claim's sends — only for messages that claim still holds
    /// — and, in the same transaction, queues a job for the earliest message of the range
    /// still waiting (a retry, a closed window), so no waiting message is left without one.
    /// `claimed` is what the claim returned: each attempt's ledger entry is made from it
    /// before the transaction, which on SQLite holds the one write lock. A notice deemed
    /// received when sent ends its chain here, as a delivery report would.
    pub async fn record_outcomes(
        &self,
        job: &DeliveryJob,
        claim_id: &str,
        claimed: &[Claimed],
        outcomes: &[Outcome],
        now: i64,
    ) -> anyhow::Result<()> {
        let mut attempts = attempt_entries(&job.intent_id, claimed, outcomes, now);
        let mut entries = Vec::with_capacity(attempts.len());
        let deemed: HashSet<&str> = claimed
            .iter()
            .filter(|c| c.received_when_sent)
            .map(|c| c.id.as_str())
            .collect();
        let mut received: Vec<String> = Vec::new();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let setup = outcomes_setup(pool);
            if !setup.is_empty() {
                sqlx::query(setup).execute(&mut *tx).await?;
            }
            for chunk in outcomes.chunks(OUTCOME_CHUNK) {
                let sql = update_sql(pool, chunk.len());
                let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
                for o in chunk {
                    let (status, sent_at, next_attempt_at, refund) = match o.status {
                        OutcomeStatus::Sent => ("sent", Some(now), now, 0i64),
                        OutcomeStatus::Retry { at } => ("queued", None, at, 0),
                        OutcomeStatus::Failed => ("failed", None, now, 0),
                        OutcomeStatus::Deferred { at } => ("queued", None, at, 1),
                    };
                    query = query
                        .bind(o.message_id.clone())
                        .bind(status)
                        .bind(o.error.clone())
                        .bind(o.gateway.clone())
                        .bind(o.gateway_message_id.clone())
                        .bind(o.content_sha256.clone())
                        .bind(o.template.clone())
                        .bind(sent_at)
                        .bind(next_attempt_at)
                        .bind(now)
                        .bind(refund)
                        .bind(o.sms.map(|t| t.encoding.as_str()))
                        .bind(o.sms.map(|t| t.parts as i64))
                        .bind(o.content.as_deref());
                }
                // Only the outcomes the claim still held were written: those get entries.
                let written = query.bind(claim_id).fetch_all(&mut *tx).await?;
                entries.extend(written.iter().filter_map(|id| attempts.remove(id.as_str())));
                if !deemed.is_empty() {
                    let sent: HashSet<&str> = chunk
                        .iter()
                        .filter(|o| o.status == OutcomeStatus::Sent && deemed.contains(o.message_id.as_str()))
                        .map(|o| o.message_id.as_str())
                        .collect();
                    received.extend(written.into_iter().filter(|id| sent.contains(id.as_str())));
                }
            }
            if !received.is_empty() {
                let ids: Vec<&str> = received.iter().map(String::as_str).collect();
                let ended = GroupStatements::end_chains(&mut tx, &ids, RECEIVED_WHEN_SENT, now).await?;
                entries.extend(ended.into_iter().map(|(id, intent_id, _)| {
                    NewEntry::about_message(now, &intent_id, &id, Fact::Cancelled { reason: RECEIVED_WHEN_SENT.into() })
                }));
            }
            let (next,) = sqlx::query_as::<_, (Option<i64>,)>(
                "SELECT MIN(next_attempt_at) FROM messages \
                 WHERE intent_id = $1 AND recipient_idx >= $2 AND recipient_idx < $3 AND status = 'queued'",
            )
            .bind(&job.intent_id)
            .bind(job.first)
            .bind(job.end)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(at) = next {
                let delay = Duration::from_millis((at - now).max(0) as u64);
                Dialect::push_jobs(&mut tx, DELIVERY_QUEUE, vec![job.to_task(Some(delay))]).await?;
            }
            // Last: the head stays locked (PostgreSQL) from here to the commit.
            Dialect::append_ledger(&mut tx, std::mem::take(&mut entries), now).await?;
            tx.commit().await?;
            anyhow::Ok(())
        })
    }

    /// Moves the legal-notice chain along: a held message starts when its latest start
    /// has come, or when the step before it failed or went unconfirmed for its
    /// `confirm_within`. (A delivered legal step cancels the rest when its receipt is
    /// recorded, see [`Db::record_receipt`].)
    /// Returns how many messages were released to the queue.
    pub async fn escalate(&self, batch: i64, now: i64) -> anyhow::Result<usize> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query_as::<_, (String, String, i64, Option<i64>, Option<i64>)>(
                "UPDATE messages SET status = 'queued', next_attempt_at = $1, updated_at = $1 \
                 WHERE status = 'held' AND (next_attempt_at <= $1 OR EXISTS (SELECT 1 FROM messages p \
                 WHERE p.intent_id = messages.intent_id AND p.recipient_idx = messages.recipient_idx \
                 AND p.legal_step = messages.legal_step - 1 \
                 AND (p.status IN ('failed', 'unconfirmed') \
                      OR (p.status = 'sent' AND NOT p.received_when_sent AND p.sent_at + p.confirm_within_ms <= $1)))) \
                 RETURNING id, intent_id, recipient_idx, legal_step, \
                 (SELECT r.deadline_at FROM recipients r WHERE r.intent_id = messages.intent_id AND r.idx = messages.recipient_idx)",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            let released = rows.len();
            let entries = rows
                .iter()
                .map(|(id, intent_id, _, legal_step, _)| {
                    NewEntry::about_message(now, intent_id, id, Fact::Escalated { legal_step: *legal_step })
                })
                .collect();
            let rows = rows
                .into_iter()
                .map(|(_, intent_id, idx, _, deadline)| (intent_id, idx, deadline))
                .collect();
            push_range_jobs(&mut tx, rows, batch).await?;
            Dialect::append_ledger(&mut tx, entries, now).await?;
            tx.commit().await?;
            anyhow::Ok(released)
        })
    }

    /// Marks `unconfirmed` the messages a reporting gateway (`gateway LIKE prefix%`) accepted
    /// before `sent_before` and never reported final on. Returns how many.
    pub async fn mark_unconfirmed(
        &self,
        gateway_prefix: &str,
        sent_before: i64,
        now: i64,
    ) -> anyhow::Result<u64> {
        let reason = "no delivery report from the gateway";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query_as::<_, (String, String)>(
                "UPDATE messages SET status = 'unconfirmed', updated_at = $3, last_error = $4 \
                 WHERE status = 'sent' AND NOT received_when_sent AND gateway LIKE $1 AND sent_at < $2 \
                 RETURNING id, intent_id",
            )
            .bind(format!("{gateway_prefix}%"))
            .bind(sent_before)
            .bind(now)
            .bind(reason)
            .fetch_all(&mut *tx)
            .await?;
            let n = rows.len() as u64;
            let entries = rows
                .iter()
                .map(|(id, intent_id)| {
                    NewEntry::about_message(now, intent_id, id, Fact::Unconfirmed { reason: reason.into() })
                })
                .collect();
            Dialect::append_ledger(&mut tx, entries, now).await?;
            tx.commit().await?;
            anyhow::Ok(n)
        })
    }

    /// Returns messages whose worker died holding them to the queue, with jobs to send
    /// them, grouping recipients into ranges of `batch`. Returns how many were released.
    pub async fn release_expired_leases(&self, batch: i64, now: i64) -> anyhow::Result<usize> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query_as::<_, (String, i64, Option<i64>)>(
                "UPDATE messages SET status = 'queued', lease_until = NULL, next_attempt_at = $1, updated_at = $1, \
                 lost_claims = lost_claims + 1, attempts = attempts - 1 \
                 WHERE status = 'sending' AND lease_until < $1 RETURNING intent_id, recipient_idx, \
                 (SELECT r.deadline_at FROM recipients r WHERE r.intent_id = messages.intent_id AND r.idx = messages.recipient_idx)",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            let released = rows.len();
            push_range_jobs(&mut tx, rows, batch).await?;
            tx.commit().await?;
            anyhow::Ok(released)
        })
    }
}

/// The `message_attempt` entry of each outcome, by message id; a deferral was no attempt.
fn attempt_entries<'a>(
    intent_id: &str,
    claimed: &[Claimed],
    outcomes: &'a [Outcome],
    now: i64,
) -> HashMap<&'a str, NewEntry> {
    let claimed: HashMap<&str, &Claimed> = claimed.iter().map(|c| (c.id.as_str(), c)).collect();
    outcomes
        .iter()
        .filter_map(|o| {
            let outcome = match o.status {
                OutcomeStatus::Sent => "sent",
                OutcomeStatus::Retry { .. } => "retry",
                OutcomeStatus::Failed => "failed",
                OutcomeStatus::Deferred { .. } => return None,
            };
            let message = claimed.get(o.message_id.as_str())?;
            let fact = Fact::MessageAttempt {
                channel: message.channel.clone(),
                attempt: message.attempts,
                outcome: outcome.to_owned(),
                template: o.template.clone(),
                gateway: o.gateway.clone(),
                gateway_message_id: o.gateway_message_id.clone(),
                content_sha256: o.content_sha256.clone(),
                request_sha256: o.exchange.request_sha256.clone(),
                response_sha256: o.exchange.response_sha256.clone(),
                error: o.error.clone(),
                received_when_sent: message.received_when_sent,
            };
            let entry = NewEntry::about_message(now, intent_id, &o.message_id, fact);
            Some((o.message_id.as_str(), entry))
        })
        .collect()
}

/// Pushes one job per `batch`-sized range holding any of `rows` (intent, recipient, its
/// deadline), ordered in the queue by the earliest of those deadlines.
pub(super) async fn push_range_jobs<DB: Dialect>(
    tx: &mut sqlx::Transaction<'_, DB>,
    rows: Vec<(String, i64, Option<i64>)>,
    batch: i64,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut ranges: BTreeMap<(String, i64), Option<i64>> = BTreeMap::new();
    for (intent_id, idx, deadline) in rows {
        let earliest = ranges.entry((intent_id, idx / batch)).or_insert(deadline);
        *earliest = [*earliest, deadline].into_iter().flatten().min();
    }
    let jobs = ranges
        .into_iter()
        .map(|((intent_id, slot), deadline_at)| {
            DeliveryJob {
                intent_id,
                first: slot * batch,
                end: (slot + 1) * batch,
                deadline_at,
                round: u32::try_from(slot).unwrap_or(u32::MAX),
            }
            .to_task(None)
        })
        .collect();
    DB::push_jobs(tx, DELIVERY_QUEUE, jobs).await
}

/// Picks the dialect's statement from the pool's type.
fn update_sql<DB: Dialect>(_pool: &sqlx::Pool<DB>, rows: usize) -> String {
    DB::update_outcomes_sql(rows)
}

fn outcomes_setup<DB: Dialect>(_pool: &sqlx::Pool<DB>) -> &'static str {
    DB::OUTCOMES_SETUP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_cell() {
        assert_eq!(
            values_placeholders(2, true),
            "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14), \
             ($15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)"
        );
        assert_eq!(
            values_placeholders(1, false),
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
    }
}
