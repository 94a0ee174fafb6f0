//! Intents, their recipients and messages: intake in one transaction, and reads for the API.

use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::bulk::{MessageColumns, RecipientColumns};
use super::ledger::NewEntry;
use super::{Db, Dialect, with_pool};
use crate::intents::NewIntent;
use crate::ledger::Fact;
use crate::plans::Start;
use crate::queue::{DELIVERY_QUEUE, DeliveryJob};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: String,
    pub client: String,
    pub idempotency_key: String,
    pub request_sha256: String,
    pub external_id: String,
    pub kind: String,
    pub event: Json<Value>,
    pub recipient_count: i64,
    pub message_count: i64,
    pub accept_late: bool,
    pub created_at: i64,
    /// The `X-Request-Id` of the request that created it: dispatch logs carry it.
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecipientRow {
    pub idx: i64,
    pub account_number: String,
    pub customer_type: String,
    pub time_zone: String,
    #[sqlx(try_from = "String")]
    pub details: Details,
    pub deadline_at: Option<i64>,
}

/// A recipient's name, contacts and kind-specific fields: JSON, stored as text on both
/// backends (migration `…016` says why).
#[derive(Debug, Clone)]
pub struct Details(pub Value);

impl TryFrom<String> for Details {
    type Error = serde_json::Error;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&text).map(Details)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: String,
    pub recipient_idx: i64,
    pub channel: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub gateway: Option<String>,
    pub gateway_message_id: Option<String>,
    pub content_sha256: Option<String>,
    pub template: Option<String>,
    pub sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub updated_at: i64,
    pub next_attempt_at: i64,
    pub legal_step: Option<i64>,
    /// Deemed received when sent (Decree 442: a contact the contract names).
    pub received_when_sent: bool,
    pub sms_encoding: Option<String>,
    pub sms_parts: Option<i64>,
}

/// What happened to a submitted intent.
#[derive(Debug)]
pub enum InsertOutcome {
    Created(IntentRow),
    /// The client used this idempotency key before (the caller compares the bodies).
    Existing(IntentRow),
}

const INTENT_COLUMNS: &str = "id, client, idempotency_key, request_sha256, external_id, kind, event, \
     recipient_count, message_count, accept_late, created_at, request_id";

/// The identity of one intake request.
#[derive(Debug, Clone)]
pub struct Submission<'a> {
    pub client: &'a str,
    pub idempotency_key: &'a str,
    pub request_sha256: &'a str,
    pub request_id: Option<&'a str>,
}

impl Db {
    /// Stores the intent, its recipients, one message per recipient × channel and the
    /// delivery jobs, all in one transaction: on return the intent is accepted for good.
    pub async fn insert_intent(
        &self,
        mut intent: NewIntent,
        submission: &Submission<'_>,
        batch_size: i64,
        now: i64,
    ) -> anyhow::Result<InsertOutcome> {
        let id = Uuid::now_v7().to_string();
        let message_count: usize = intent.recipients.iter().map(|r| r.channels.len()).sum();
        let jobs: Vec<_> = DeliveryJob::cover(
            &id,
            intent.recipients.len() as i64,
            batch_size,
            &intent.deadlines,
        )
        .iter()
        .map(|job| job.to_task(None))
        .collect();

        let recipient_count = intent.recipients.len() as i64;
        let facts = intake_facts(&mut intent, &id, submission, message_count as i64, now);
        // Consumes the recipients, chunk by chunk on a blocking thread, while the chunks
        // before are being inserted: the two overlap instead of taking turns.
        let mut chunks = columns_in_chunks(&mut intent, now);
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed_key = sqlx::query(
                "INSERT INTO intents (id, client, idempotency_key, request_sha256, external_id, kind, event, \
                 recipient_count, message_count, accept_late, request_id, created_at, callback_url) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (client, idempotency_key) DO NOTHING",
            )
            .bind(&id)
            .bind(submission.client)
            .bind(submission.idempotency_key)
            .bind(submission.request_sha256)
            .bind(&intent.external_id)
            .bind(intent.kind.as_str())
            .bind(Json(&intent.event))
            .bind(recipient_count)
            .bind(message_count as i64)
            .bind(intent.accept_late)
            .bind(submission.request_id)
            .bind(now)
            .bind(intent.callback_url.as_ref().map(|u| u.as_str().to_owned()))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if claimed_key {
                let mut written = 0;
                while let Some((recipients, messages)) = chunks.recv().await {
                    written += recipients.idx.len() as i64;
                    Dialect::insert_rows(&mut tx, &id, now, &recipients, &messages).await?;
                }
                // The builder stopping early (a panic) must not commit part of an intent.
                anyhow::ensure!(
                    written == recipient_count,
                    "intake wrote {written} of {recipient_count} recipients"
                );
                Dialect::push_jobs(&mut tx, DELIVERY_QUEUE, jobs).await?;
                Dialect::append_ledger(&mut tx, facts, now).await?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            anyhow::Ok(claimed_key)
        })?;

        let row = self
            .intent_by_key(submission.client, submission.idempotency_key)
            .await?
            .ok_or_else(|| anyhow::anyhow!("intent vanished right after intake"))?;
        Ok(if inserted {
            InsertOutcome::Created(row)
        } else {
            InsertOutcome::Existing(row)
        })
    }

    /// The intent a client submitted under an idempotency key.
    pub async fn intent_by_key(
        &self,
        client: &str,
        key: &str,
    ) -> anyhow::Result<Option<IntentRow>> {
        let sql = format!(
            "SELECT {INTENT_COLUMNS} FROM intents WHERE client = $1 AND idempotency_key = $2"
        );
        let row = with_pool!(self, pool => sqlx::query_as::<_, IntentRow>(sqlx::AssertSqlSafe(sql))
            .bind(client)
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    pub async fn intent(&self, id: &str) -> anyhow::Result<Option<IntentRow>> {
        let sql = format!("SELECT {INTENT_COLUMNS} FROM intents WHERE id = $1");
        let row = with_pool!(self, pool => sqlx::query_as::<_, IntentRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Intents with this external id, newest first; `client` limits them to one caller.
    pub async fn intents_by_external_id(
        &self,
        external_id: &str,
        client: Option<&str>,
    ) -> anyhow::Result<Vec<IntentRow>> {
        let sql = format!(
            "SELECT {INTENT_COLUMNS} FROM intents WHERE external_id = $1 AND ($2 IS NULL OR client = $2) \
             ORDER BY created_at DESC LIMIT 100"
        );
        let rows = with_pool!(self, pool => sqlx::query_as::<_, IntentRow>(sqlx::AssertSqlSafe(sql))
            .bind(external_id)
            .bind(client)
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    /// Message counts by status for one intent.
    pub async fn status_counts(&self, intent_id: &str) -> anyhow::Result<Vec<(String, i64)>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, (String, i64)>(
            "SELECT status, COUNT(*) FROM messages WHERE intent_id = $1 GROUP BY status ORDER BY status",
        )
        .bind(intent_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Recipients `first..end` of an intent.
    pub async fn recipients(
        &self,
        intent_id: &str,
        first: i64,
        end: i64,
    ) -> anyhow::Result<Vec<RecipientRow>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, RecipientRow>(
            "SELECT idx, account_number, customer_type, time_zone, details, deadline_at FROM recipients \
             WHERE intent_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(intent_id)
        .bind(first)
        .bind(end)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Messages of recipients `first..end` of an intent.
    pub async fn messages(
        &self,
        intent_id: &str,
        first: i64,
        end: i64,
    ) -> anyhow::Result<Vec<MessageRow>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, MessageRow>(
            "SELECT id, recipient_idx, channel, status, attempts, last_error, gateway, gateway_message_id, \
             content_sha256, template, sent_at, delivered_at, updated_at, next_attempt_at, legal_step, received_when_sent, \
             sms_encoding, sms_parts FROM messages \
             WHERE intent_id = $1 AND recipient_idx >= $2 AND recipient_idx < $3 ORDER BY recipient_idx, channel",
        )
        .bind(intent_id)
        .bind(first)
        .bind(end)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }
}

/// The ledger entries of an accepted intent: the request's digest, and its deadlines.
fn intake_facts(
    intent: &mut NewIntent,
    id: &str,
    submission: &Submission<'_>,
    messages: i64,
    now: i64,
) -> Vec<NewEntry> {
    let accepted = Fact::IntentAccepted {
        client: submission.client.to_owned(),
        external_id: intent.external_id.clone(),
        kind: intent.kind.as_str().to_owned(),
        request_sha256: submission.request_sha256.to_owned(),
        recipients: intent.recipients.len() as i64,
        messages,
        accept_late: intent.accept_late,
    };
    std::iter::once(accepted)
        .chain(
            std::mem::take(&mut intent.deadline_facts)
                .into_iter()
                .map(Fact::DeadlineComputed),
        )
        .map(|fact| NewEntry::new(now, Some(id.to_owned()), None, fact))
        .collect()
}

/// Recipients per chunk of columns handed from the builder to the inserts.
const INTAKE_CHUNK: usize = 2000;

/// The intent's recipients and messages as columns, ready for bulk inserts, built on a
/// blocking thread and sent in chunks of [`INTAKE_CHUNK`] recipients as they are ready.
fn columns_in_chunks(
    intent: &mut NewIntent,
    now: i64,
) -> tokio::sync::mpsc::Receiver<(RecipientColumns, MessageColumns)> {
    let recipients = std::mem::take(&mut intent.recipients);
    let deadlines = std::mem::take(&mut intent.deadlines);
    let schedules = std::mem::take(&mut intent.schedules);
    let (chunks, received) = tokio::sync::mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut r = RecipientColumns::default();
        let mut m = MessageColumns::default();
        for (i, recipient) in recipients.into_iter().enumerate() {
            let steps = schedules.get(i).map(Vec::as_slice).unwrap_or_default();
            push_columns(
                &mut r,
                &mut m,
                i,
                recipient,
                deadlines.get(i).copied().flatten(),
                steps,
                now,
            );
            if r.idx.len() == INTAKE_CHUNK {
                let chunk = (std::mem::take(&mut r), std::mem::take(&mut m));
                if chunks.blocking_send(chunk).is_err() {
                    return; // the intake gave up (a database error, a replay)
                }
            }
        }
        if !r.idx.is_empty() {
            let _ = chunks.blocking_send((r, m));
        }
    });
    received
}

/// Appends recipient `i` and its messages to the columns.
fn push_columns(
    r: &mut RecipientColumns,
    m: &mut MessageColumns,
    i: usize,
    recipient: crate::recipients::Recipient,
    deadline_at: Option<i64>,
    steps: &[crate::plans::Step],
    now: i64,
) {
    let letter_pdf_sha256 = recipient
        .letter_pdf
        .as_ref()
        .map(|pdf| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(pdf.as_slice())));
    let details = json!({"name": recipient.name, "contacts": recipient.contacts,
        "debt": recipient.debt, "letter_pdf_sha256": letter_pdf_sha256, "region": recipient.region});
    r.idx.push(i as i64);
    r.account_number.push(recipient.account_number);
    r.customer_type
        .push(recipient.customer_type.as_str().to_owned());
    r.time_zone.push(recipient.time_zone.name().to_owned());
    r.details.push(details.to_string());
    r.deadline_at.push(deadline_at);
    for (k, channel) in recipient.channels.iter().enumerate() {
        // Unplanned (a caller that skipped planning): everything goes at once.
        let step = steps.get(k).filter(|s| s.channel == *channel);
        let (status, at) = match step.map(|s| s.start) {
            Some(Start::Held { latest }) => ("held", latest.timestamp_millis()),
            _ => ("queued", now),
        };
        m.id.push(Uuid::now_v7().to_string());
        m.recipient_idx.push(i as i64);
        m.channel.push(channel.as_str().to_owned());
        m.status.push(status.to_owned());
        m.next_attempt_at.push(at);
        m.legal_step
            .push(step.and_then(|s| s.legal_step).map(i64::from));
        m.confirm_within_ms
            .push(step.map(|s| s.confirm_within.as_millis() as i64));
        m.received_when_sent
            .push(step.is_some_and(|s| s.received_when_sent));
    }
}
