//! Reads for proof bundles, and the personal-data purge of finished intents.

use super::ledger::NewEntry;
use super::{Db, Dialect, with_pool};
use super::{MessageRow, RecipientRow};
use crate::ledger::{Fact, Head, Row};

/// The intent as a proof shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProofIntent {
    pub id: String,
    pub client: String,
    pub external_id: String,
    pub kind: String,
    pub request_sha256: String,
    pub event: sqlx::types::Json<serde_json::Value>,
    pub recipient_count: i64,
    pub accept_late: bool,
    pub created_at: i64,
    pub purged_at: Option<i64>,
}

/// A message with everything a proof shows of it: the row, and the exact bytes sent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProofMessage {
    #[sqlx(flatten)]
    pub row: MessageRow,
    pub content: Option<Vec<u8>>,
}

/// A gateway report as kept.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProofReceipt {
    pub id: String,
    pub message_id: String,
    pub status: String,
    pub provider_status: String,
    pub provider_time: Option<i64>,
    pub received_at: i64,
    pub raw: String,
    pub raw_sha256: String,
    pub reason: Option<String>,
    pub evidence_sha256: Option<String>,
}

/// What the purge removed from one intent.
#[derive(Debug, Clone, Default)]
pub struct Purged {
    pub messages: i64,
    /// Letters and return-receipt scans (documents store hashes) no longer needed.
    pub documents: Vec<String>,
}

/// What purged data is replaced with.
pub const PURGED: &str = "[purged]";

/// Everything one bundle is built from, read from one snapshot: a purge or a receipt
/// committing halfway through cannot leave the bundle half before and half after it.
#[derive(Debug)]
pub struct ProofRows {
    pub intent: ProofIntent,
    pub recipients: Vec<RecipientRow>,
    pub messages: Vec<ProofMessage>,
    pub receipts: Vec<ProofReceipt>,
    /// The intent's own entries plus those about messages of the recipients read.
    pub entries: Vec<Row>,
    pub head: Head,
}

impl Db {
    /// The rows of a bundle for recipients `first..end` (clamped to the intent's), or
    /// `None` for an unknown intent.
    pub async fn proof_rows(
        &self,
        intent_id: &str,
        first: i64,
        end: i64,
    ) -> anyhow::Result<Option<ProofRows>> {
        let postgres = self.backend_name() == "postgres";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *tx)
                    .await?;
            }
            let intent = sqlx::query_as::<_, ProofIntent>(
                "SELECT id, client, external_id, kind, request_sha256, event, recipient_count, accept_late, \
                 created_at, purged_at FROM intents WHERE id = $1",
            )
            .bind(intent_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(intent) = intent else {
                return Ok(None);
            };
            let end = end.min(intent.recipient_count);
            let recipients = sqlx::query_as::<_, RecipientRow>(
                "SELECT idx, account_number, customer_type, time_zone, details, deadline_at FROM recipients \
                 WHERE intent_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            )
            .bind(intent_id)
            .bind(first)
            .bind(end)
            .fetch_all(&mut *tx)
            .await?;
            let messages = sqlx::query_as::<_, ProofMessage>(
                "SELECT id, recipient_idx, channel, status, attempts, last_error, gateway, gateway_message_id, \
                 content_sha256, template, sent_at, delivered_at, updated_at, next_attempt_at, legal_step, received_when_sent, \
                 sms_encoding, sms_parts, content FROM messages \
                 WHERE intent_id = $1 AND recipient_idx >= $2 AND recipient_idx < $3 \
                 ORDER BY recipient_idx, legal_step, channel",
            )
            .bind(intent_id)
            .bind(first)
            .bind(end)
            .fetch_all(&mut *tx)
            .await?;
            let receipts = sqlx::query_as::<_, ProofReceipt>(
                "SELECT r.id, r.message_id, r.status, r.provider_status, r.provider_time, r.received_at, r.raw, \
                 r.raw_sha256, r.reason, r.evidence_sha256 FROM receipts r JOIN messages m ON m.id = r.message_id \
                 WHERE m.intent_id = $1 AND m.recipient_idx >= $2 AND m.recipient_idx < $3 \
                 ORDER BY r.received_at, r.id",
            )
            .bind(intent_id)
            .bind(first)
            .bind(end)
            .fetch_all(&mut *tx)
            .await?;
            let entries = sqlx::query_as::<_, Row>(
                "SELECT l.seq, l.body, l.hash FROM ledger l WHERE l.intent_id = $1 AND (l.message_id IS NULL \
                 OR EXISTS (SELECT 1 FROM messages m WHERE m.id = l.message_id \
                 AND m.recipient_idx >= $2 AND m.recipient_idx < $3)) ORDER BY l.seq",
            )
            .bind(intent_id)
            .bind(first)
            .bind(end)
            .fetch_all(&mut *tx)
            .await?;
            let (seq, hash) = sqlx::query_as::<_, (i64, String)>("SELECT seq, hash FROM ledger_head WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            anyhow::Ok(Some(ProofRows {
                intent,
                recipients,
                messages,
                receipts,
                entries,
                head: Head { seq, hash },
            }))
        })
    }

    /// Intents not yet purged whose every message settled before `settled_before`
    /// (nothing queued, held or being sent), at most `limit`.
    pub async fn purgeable_intents(
        &self,
        settled_before: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<String>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, (String,)>(
            "SELECT i.id FROM intents i WHERE i.purged_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.intent_id = i.id \
                             AND (m.status IN ('queued', 'sending', 'held') OR m.updated_at >= $1)) \
             AND i.created_at < $1 ORDER BY i.created_at LIMIT $2",
        )
        .bind(settled_before)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Replaces the intent's personal data with a marker — recipients' names and contact
    /// points, stored message bodies, raw gateway reports — and records the purge in the
    /// ledger, all in one transaction. Returns the documents (letters, scans) the caller
    /// should delete once no unpurged message needs them; `None` if already purged.
    pub async fn purge_personal_data(
        &self,
        intent_id: &str,
        parts: &[&str],
        now: i64,
    ) -> anyhow::Result<Option<Purged>> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query("UPDATE intents SET purged_at = $2 WHERE id = $1 AND purged_at IS NULL")
                .bind(intent_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            // Letters (their hash is the message's content hash) and return-receipt scans.
            let documents: Vec<(String,)> = sqlx::query_as(
                "SELECT m.content_sha256 FROM messages m WHERE m.intent_id = $1 \
                 AND m.channel IN ('mail', 'fax') AND m.content_sha256 IS NOT NULL \
                 UNION SELECT r.evidence_sha256 FROM receipts r JOIN messages m ON m.id = r.message_id \
                 WHERE m.intent_id = $1 AND r.evidence_sha256 IS NOT NULL",
            )
            .bind(intent_id)
            .fetch_all(&mut *tx)
            .await?;
            let marker = serde_json::json!({ "purged": PURGED }).to_string();
            sqlx::query("UPDATE recipients SET details = $2 WHERE intent_id = $1")
            .bind(intent_id)
            .bind(&marker)
            .execute(&mut *tx)
            .await?;
            let messages = sqlx::query("UPDATE messages SET content = NULL WHERE intent_id = $1")
                .bind(intent_id)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
            sqlx::query(
                "UPDATE receipts SET raw = $2 WHERE message_id IN (SELECT id FROM messages WHERE intent_id = $1)",
            )
            .bind(intent_id)
            .bind(PURGED)
            .execute(&mut *tx)
            .await?;
            let entry = NewEntry::new(
                now,
                Some(intent_id.to_owned()),
                None,
                Fact::PersonalDataPurged {
                    parts: parts.iter().map(|p| (*p).to_owned()).collect(),
                    messages,
                },
            );
            Dialect::append_ledger(&mut tx, vec![entry], now).await?;
            tx.commit().await?;
            anyhow::Ok(Some(Purged {
                messages,
                documents: documents.into_iter().map(|(d,)| d).collect(),
            }))
        })
    }

    /// Whether a letter, fax or return-receipt scan of an intent not yet purged is this
    /// document (the predicates match the partial indexes of migration 13).
    pub async fn document_in_use(&self, sha256: &str) -> anyhow::Result<bool> {
        let (n,) = with_pool!(self, pool => sqlx::query_as::<_, (i64,)>(
            "SELECT (SELECT COUNT(*) FROM messages m JOIN intents i ON i.id = m.intent_id \
             WHERE m.content_sha256 = $1 AND m.channel IN ('mail', 'fax') AND i.purged_at IS NULL) \
             + (SELECT COUNT(*) FROM receipts r JOIN messages m ON m.id = r.message_id \
             JOIN intents i ON i.id = m.intent_id \
             WHERE r.evidence_sha256 = $1 AND r.evidence_sha256 IS NOT NULL AND i.purged_at IS NULL)",
        )
        .bind(sha256)
        .fetch_one(pool)
        .await)?;
        Ok(n > 0)
    }
}
