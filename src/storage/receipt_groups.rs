//! The statements of one group of delivery reports ([`Db::record_receipts`]) whose text
//! differs by backend. PostgreSQL binds each column as one array, so every group, whatever
//! its size, runs the same five prepared statements: written as one `VALUES` row per
//! report, each group was parsed and planned afresh, a third of the server's time on a
//! group (README "Performance"). SQLite has no arrays; it parses in-process, cheaply.
//!
//! [`Db::record_receipts`]: super::Db::record_receipts

use std::collections::HashSet;

use futures::TryStreamExt;
use sqlx::{Postgres, Sqlite, Transaction};

/// A group's receipts as columns, in arrival order.
#[derive(Default)]
pub(super) struct ReceiptRows<'a> {
    pub id: Vec<&'a str>,
    pub message_id: Vec<&'a str>,
    pub gateway: Vec<&'a str>,
    pub provider_message_id: Vec<&'a str>,
    pub status: Vec<&'a str>,
    pub provider_status: Vec<&'a str>,
    pub provider_time: Vec<Option<i64>>,
    pub raw: Vec<&'a str>,
    pub raw_sha256: Vec<&'a str>,
    pub reason: Vec<Option<&'a str>>,
    pub evidence_sha256: Vec<Option<&'a str>>,
}

/// Final statuses to apply, at most one per message.
#[derive(Default)]
pub(super) struct FinalRows<'a> {
    pub message_id: Vec<&'a str>,
    /// The provider's id the report names: it applies only while that is the message's
    /// current attempt (a late report about an earlier attempt must not end a newer one).
    pub provider_message_id: Vec<&'a str>,
    /// `delivered` or `failed`.
    pub status: Vec<&'a str>,
    /// When the provider says it happened (or when the report came).
    pub at: Vec<i64>,
    pub error: Vec<Option<&'a str>>,
}

/// A delivered legal notice: id, channel, recipient, time left to its deadline (ms).
pub(super) type Margin = (String, String, i64, Option<i64>);
/// A cancelled later step of a legal chain: id, intent, recipient.
pub(super) type Ended = (String, String, i64);

pub(super) trait GroupStatements: sqlx::Database {
    /// Locks the group's messages in id order, so that two groups about the same messages
    /// (several `serve` instances) wait for each other instead of deadlocking.
    async fn lock_messages(tx: &mut Transaction<'_, Self>, ids: &[&str]) -> sqlx::Result<()>;

    /// Inserts the receipts not kept before (nor twice in the group); returns their ids.
    async fn insert_receipts(
        tx: &mut Transaction<'_, Self>,
        rows: &ReceiptRows<'_>,
        now: i64,
    ) -> sqlx::Result<HashSet<String>>;

    /// Applies final statuses to messages not final yet; returns the ids changed.
    async fn apply_finals(
        tx: &mut Transaction<'_, Self>,
        rows: &FinalRows<'_>,
        now: i64,
    ) -> sqlx::Result<HashSet<String>>;

    /// The channel, recipient and deadline margin of delivered legal notices.
    async fn legal_margins(
        tx: &mut Transaction<'_, Self>,
        ids: &[&str],
    ) -> sqlx::Result<Vec<Margin>>;

    /// Cancels the legal steps not yet sent of the chains these delivered notices end.
    async fn end_chains(
        tx: &mut Transaction<'_, Self>,
        ids: &[&str],
        reason: &str,
        now: i64,
    ) -> sqlx::Result<Vec<Ended>>;
}

const INSERT_COLUMNS: &str = "INSERT INTO receipts (id, message_id, gateway, provider_message_id, status, \
     provider_status, provider_time, received_at, raw, raw_sha256, created_at, reason, evidence_sha256) ";
/// The same report again (or twice in the group) is kept once: the first copy.
const INSERT_CONFLICT: &str =
    " ON CONFLICT (gateway, provider_message_id, provider_status) DO NOTHING RETURNING id";
const FINALS_SET: &str = "UPDATE messages SET status = v.new_status, last_error = v.error, \
     delivered_at = CASE WHEN v.new_status = 'delivered' THEN v.at ELSE messages.delivered_at END, \
     updated_at = ";
// Not `sending`: a message found by a provider id while a new attempt is in flight was
// found by an earlier attempt's id (the current one's is not recorded yet).
const FINALS_WHERE: &str = " WHERE messages.id = v.message_id \
     AND messages.gateway_message_id = v.provider_id \
     AND messages.status IN ('sent', 'queued', 'unconfirmed') RETURNING id";
const MARGINS: &str = "SELECT m.id, m.channel, m.recipient_idx, r.deadline_at - m.delivered_at FROM messages m \
     JOIN recipients r ON r.intent_id = m.intent_id AND r.idx = m.recipient_idx \
     WHERE m.legal_step IS NOT NULL AND m.id";
/// After `UPDATE messages SET status = 'cancelled', last_error = …, updated_at = …`.
const END_CHAINS_WHERE: &str = " WHERE status IN ('held', 'queued') AND legal_step IS NOT NULL \
     AND (intent_id, recipient_idx) IN (SELECT intent_id, recipient_idx FROM messages \
     WHERE legal_step IS NOT NULL AND id";
const END_CHAINS_RETURNING: &str = ") RETURNING id, intent_id, recipient_idx";

impl GroupStatements for Postgres {
    async fn lock_messages(tx: &mut Transaction<'_, Self>, ids: &[&str]) -> sqlx::Result<()> {
        sqlx::query("SELECT id FROM messages WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(ids)
            .execute(&mut **tx)
            .await
            .map(|_| ())
    }

    async fn insert_receipts(
        tx: &mut Transaction<'_, Self>,
        r: &ReceiptRows<'_>,
        now: i64,
    ) -> sqlx::Result<HashSet<String>> {
        let sql = format!(
            "{INSERT_COLUMNS}SELECT id, message_id, gateway, provider_message_id, status, provider_status, \
             provider_time, $12, raw, raw_sha256, $12, reason, evidence_sha256 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[]) WITH ORDINALITY \
             AS r(id, message_id, gateway, provider_message_id, status, provider_status, provider_time, \
             raw, raw_sha256, reason, evidence_sha256, arrival) ORDER BY arrival{INSERT_CONFLICT}"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&r.id)
            .bind(&r.message_id)
            .bind(&r.gateway)
            .bind(&r.provider_message_id)
            .bind(&r.status)
            .bind(&r.provider_status)
            .bind(&r.provider_time)
            .bind(&r.raw)
            .bind(&r.raw_sha256)
            .bind(&r.reason)
            .bind(&r.evidence_sha256)
            .bind(now)
            .fetch(&mut **tx)
            .try_collect()
            .await
    }

    async fn apply_finals(
        tx: &mut Transaction<'_, Self>,
        f: &FinalRows<'_>,
        now: i64,
    ) -> sqlx::Result<HashSet<String>> {
        let sql = format!(
            "{FINALS_SET}$5 FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $6::text[]) \
             AS v(message_id, new_status, at, error, provider_id){FINALS_WHERE}"
        );
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(&f.message_id)
            .bind(&f.status)
            .bind(&f.at)
            .bind(&f.error)
            .bind(now)
            .bind(&f.provider_message_id)
            .fetch(&mut **tx)
            .try_collect()
            .await
    }

    async fn legal_margins(
        tx: &mut Transaction<'_, Self>,
        ids: &[&str],
    ) -> sqlx::Result<Vec<Margin>> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{MARGINS} = ANY($1)")))
            .bind(ids)
            .fetch_all(&mut **tx)
            .await
    }

    async fn end_chains(
        tx: &mut Transaction<'_, Self>,
        ids: &[&str],
        reason: &str,
        now: i64,
    ) -> sqlx::Result<Vec<Ended>> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET status = 'cancelled', last_error = $1, updated_at = $2\
             {END_CHAINS_WHERE} = ANY($3){END_CHAINS_RETURNING}"
        )))
        .bind(reason)
        .bind(now)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
    }
}

impl GroupStatements for Sqlite {
    async fn lock_messages(_: &mut Transaction<'_, Self>, _: &[&str]) -> sqlx::Result<()> {
        // One writer: the transaction's first write takes the whole database.
        Ok(())
    }

    async fn insert_receipts(
        tx: &mut Transaction<'_, Self>,
        r: &ReceiptRows<'_>,
        now: i64,
    ) -> sqlx::Result<HashSet<String>> {
        let mut insert = sqlx::QueryBuilder::new(INSERT_COLUMNS);
        insert.push_values(0..r.id.len(), |mut b, i| {
            b.push_bind(r.id[i])
                .push_bind(r.message_id[i])
                .push_bind(r.gateway[i])
                .push_bind(r.provider_message_id[i])
                .push_bind(r.status[i])
                .push_bind(r.provider_status[i])
                .push_bind(r.provider_time[i])
                .push_bind(now)
                .push_bind(r.raw[i])
                .push_bind(r.raw_sha256[i])
                .push_bind(now)
                .push_bind(r.reason[i])
                .push_bind(r.evidence_sha256[i]);
        });
        insert.push(INSERT_CONFLICT);
        insert
            .build_query_scalar()
            .persistent(false)
            .fetch(&mut **tx)
            .try_collect()
            .await
    }

    async fn apply_finals(
        tx: &mut Transaction<'_, Self>,
        f: &FinalRows<'_>,
        now: i64,
    ) -> sqlx::Result<HashSet<String>> {
        let mut update =
            sqlx::QueryBuilder::new("WITH v(message_id, new_status, at, error, provider_id) AS (");
        update.push_values(0..f.message_id.len(), |mut b, i| {
            b.push_bind(f.message_id[i])
                .push_bind(f.status[i])
                .push_bind(f.at[i])
                .push_bind(f.error[i])
                .push_bind(f.provider_message_id[i]);
        });
        update.push(") ");
        update.push(FINALS_SET);
        update.push_bind(now);
        update.push(" FROM v");
        update.push(FINALS_WHERE);
        update
            .build_query_scalar()
            .persistent(false)
            .fetch(&mut **tx)
            .try_collect()
            .await
    }

    async fn legal_margins(
        tx: &mut Transaction<'_, Self>,
        ids: &[&str],
    ) -> sqlx::Result<Vec<Margin>> {
        let mut select = sqlx::QueryBuilder::new(MARGINS);
        push_in_list(&mut select, ids);
        select
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut **tx)
            .await
    }

    async fn end_chains(
        tx: &mut Transaction<'_, Self>,
        ids: &[&str],
        reason: &str,
        now: i64,
    ) -> sqlx::Result<Vec<Ended>> {
        let mut cancel =
            sqlx::QueryBuilder::new("UPDATE messages SET status = 'cancelled', last_error = ");
        cancel.push_bind(reason);
        cancel.push(", updated_at = ");
        cancel.push_bind(now);
        cancel.push(END_CHAINS_WHERE);
        push_in_list(&mut cancel, ids);
        cancel.push(END_CHAINS_RETURNING);
        cancel
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut **tx)
            .await
    }
}

/// ` IN (?, ?, …)` with `ids` bound.
fn push_in_list(qb: &mut sqlx::QueryBuilder<Sqlite>, ids: &[&str]) {
    qb.push(" IN (");
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    list.push_unseparated(")");
}
