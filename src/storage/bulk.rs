//! Intake's bulk inserts, column-wise: one intent brings up to 200,000 recipient rows and
//! as many messages, which per-row statements would take seconds to write.
//!
//! SQLite gets multi-row `INSERT … VALUES` in chunks (its per-statement cost is ~100 µs);
//! PostgreSQL gets one `INSERT … SELECT FROM UNNEST($1::text[], …)` per table and chunk — a
//! few array parameters instead of thousands of scalars, which is what makes it fast there.
//! Intake hands both the columns one chunk of recipients at a time (`storage::intents`).

use sqlx::{Postgres, Sqlite, Transaction};

/// Rows per multi-row INSERT on SQLite: well inside its 32,766 bound parameters.
const SQLITE_CHUNK: usize = 1000;

#[derive(Debug, Default)]
pub struct RecipientColumns {
    pub idx: Vec<i64>,
    pub account_number: Vec<String>,
    pub customer_type: Vec<String>,
    pub time_zone: Vec<String>,
    /// JSON text: name, contacts, kind-specific fields.
    pub details: Vec<String>,
    pub deadline_at: Vec<Option<i64>>,
}

#[derive(Debug, Default)]
pub struct MessageColumns {
    pub id: Vec<String>,
    pub recipient_idx: Vec<i64>,
    pub channel: Vec<String>,
    /// `queued`, or `held` for a later step of the legal-notice chain.
    pub status: Vec<String>,
    pub next_attempt_at: Vec<i64>,
    pub legal_step: Vec<Option<i64>>,
    pub confirm_within_ms: Vec<Option<i64>>,
    pub received_when_sent: Vec<bool>,
}

pub async fn sqlite_insert(
    tx: &mut Transaction<'_, Sqlite>,
    intent_id: &str,
    now: i64,
    recipients: &RecipientColumns,
    messages: &MessageColumns,
) -> sqlx::Result<()> {
    let n = recipients.idx.len();
    let m = messages.id.len();
    let mut statements = (0..n)
        .step_by(SQLITE_CHUNK)
        .map(|start| Rows::Recipients(start..(start + SQLITE_CHUNK).min(n)))
        .chain(
            (0..m)
                .step_by(SQLITE_CHUNK)
                .map(|start| Rows::Messages(start..(start + SQLITE_CHUNK).min(m))),
        );
    let build = |rows: Rows| rows.insert(intent_id, now, recipients, messages);
    // Each statement is built (binding ~10,000 values) while the one before executes on
    // SQLite's thread: the two take turns otherwise.
    let mut next = statements.next().map(build);
    while let Some(mut query) = next.take() {
        let (done, built) = futures::join!(query.build().execute(&mut **tx), async {
            statements.next().map(build)
        });
        done?;
        next = built;
    }
    Ok(())
}

/// The rows of one multi-row INSERT.
enum Rows {
    Recipients(std::ops::Range<usize>),
    Messages(std::ops::Range<usize>),
}

impl Rows {
    fn insert<'a>(
        self,
        intent_id: &'a str,
        now: i64,
        recipients: &'a RecipientColumns,
        messages: &'a MessageColumns,
    ) -> sqlx::QueryBuilder<Sqlite> {
        match self {
            Rows::Recipients(range) => {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO recipients (intent_id, idx, account_number, customer_type, time_zone, details, deadline_at, created_at) ",
                );
                qb.push_values(range, |mut b, i| {
                    b.push_bind(intent_id)
                        .push_bind(recipients.idx[i])
                        .push_bind(&recipients.account_number[i])
                        .push_bind(&recipients.customer_type[i])
                        .push_bind(&recipients.time_zone[i])
                        .push_bind(&recipients.details[i])
                        .push_bind(recipients.deadline_at[i])
                        .push_bind(now);
                });
                qb
            }
            Rows::Messages(range) => {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO messages (id, intent_id, recipient_idx, channel, status, next_attempt_at, \
                     legal_step, confirm_within_ms, received_when_sent, created_at, updated_at) ",
                );
                qb.push_values(range, |mut b, i| {
                    b.push_bind(&messages.id[i])
                        .push_bind(intent_id)
                        .push_bind(messages.recipient_idx[i])
                        .push_bind(&messages.channel[i])
                        .push_bind(&messages.status[i])
                        .push_bind(messages.next_attempt_at[i])
                        .push_bind(messages.legal_step[i])
                        .push_bind(messages.confirm_within_ms[i])
                        .push_bind(messages.received_when_sent[i])
                        .push_bind(now)
                        .push_bind(now);
                });
                qb
            }
        }
    }
}

pub async fn postgres_insert(
    tx: &mut Transaction<'_, Postgres>,
    intent_id: &str,
    now: i64,
    recipients: &RecipientColumns,
    messages: &MessageColumns,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO recipients (intent_id, idx, account_number, customer_type, time_zone, details, deadline_at, created_at) \
         SELECT $1, t.idx, t.account_number, t.customer_type, t.time_zone, t.details, t.deadline_at, $2 \
         FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[]) \
         AS t(idx, account_number, customer_type, time_zone, details, deadline_at)",
    )
    .bind(intent_id)
    .bind(now)
    .bind(&recipients.idx)
    .bind(&recipients.account_number)
    .bind(&recipients.customer_type)
    .bind(&recipients.time_zone)
    .bind(&recipients.details)
    .bind(&recipients.deadline_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO messages (id, intent_id, recipient_idx, channel, status, next_attempt_at, \
         legal_step, confirm_within_ms, received_when_sent, created_at, updated_at) \
         SELECT t.id, $1, t.recipient_idx, t.channel, t.status, t.next_attempt_at, t.legal_step, t.confirm_within_ms, \
         t.received_when_sent, $2, $2 \
         FROM UNNEST($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], \
         $10::boolean[]) \
         AS t(id, recipient_idx, channel, status, next_attempt_at, legal_step, confirm_within_ms, received_when_sent)",
    )
    .bind(intent_id)
    .bind(now)
    .bind(&messages.id)
    .bind(&messages.recipient_idx)
    .bind(&messages.channel)
    .bind(&messages.status)
    .bind(&messages.next_attempt_at)
    .bind(&messages.legal_step)
    .bind(&messages.confirm_within_ms)
    .bind(&messages.received_when_sent)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
