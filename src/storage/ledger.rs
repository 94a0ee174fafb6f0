//! The ledger's rows. Entries are appended inside the transaction of the fact they record
//! (intake, a batch of send outcomes, a receipt, an escalation), so a fact never commits
//! without its entry. Appends are serialised by the single `ledger_head` row: each one
//! locks it by updating it first, numbers and links its entries after the head it read,
//! writes them in one multi-row statement and moves the head.

use std::collections::BTreeMap;

use sqlx::{Postgres, Sqlite, Transaction};

use super::{Db, with_pool};
use crate::ledger::{Break, Chain, Head, Row, Unsealed, Walker};

/// A checkpoint of the head is kept whenever an append crosses a multiple of this.
pub const CHECKPOINT_EVERY: i64 = 10_000;
/// Rows per multi-row INSERT on SQLite (7 parameters each, far below its limit).
const SQLITE_CHUNK: usize = 1000;
/// Rows read per round trip when walking the chain.
const PAGE: i64 = 10_000;

/// A fact to append, with what it is about: the ledger's [`Unsealed`]. Made before the
/// transaction that appends it where the caller can, since most of an append's work
/// happens there, outside the head's lock.
pub type NewEntry = Unsealed;

/// The columns of sealed entries, for one bulk insert.
#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    intent_id: Vec<Option<String>>,
    message_id: Vec<Option<String>>,
    kind: Vec<String>,
    body: Vec<String>,
    hash: Vec<String>,
    at: Vec<i64>,
}

fn seal(head: Head, entries: Vec<NewEntry>) -> (Columns, Head) {
    let mut chain = Chain::after(head);
    let mut c = Columns::default();
    for e in entries {
        let kind = e.fact().kind();
        let sealed = chain.seal(e);
        c.seq.push(sealed.entry.seq);
        c.intent_id.push(sealed.entry.intent_id);
        c.message_id.push(sealed.entry.message_id);
        c.kind.push(kind.to_owned());
        c.body.push(sealed.body);
        c.hash.push(sealed.hash);
        c.at.push(sealed.entry.at);
    }
    (c, chain.head().clone())
}

/// Generates the head handling for one backend: the SQL is the same, the types are not.
macro_rules! head_ops {
    ($db:ty, $lock:ident, $store:ident) => {
        /// Locks the head (an UPDATE takes PostgreSQL's row lock, SQLite's write lock)
        /// before reading it, so two appends never build on the same head.
        async fn $lock(tx: &mut Transaction<'_, $db>, now: i64) -> sqlx::Result<Head> {
            let (seq, hash): (i64, String) = sqlx::query_as(
                "UPDATE ledger_head SET updated_at = $1 WHERE id = 1 RETURNING seq, hash",
            )
            .bind(now)
            .fetch_one(&mut **tx)
            .await?;
            Ok(Head { seq, hash })
        }

        async fn $store(
            tx: &mut Transaction<'_, $db>,
            old: &Head,
            new: &Head,
            now: i64,
        ) -> sqlx::Result<()> {
            sqlx::query("UPDATE ledger_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(new.seq)
                .bind(&new.hash)
                .execute(&mut **tx)
                .await?;
            if new.seq / CHECKPOINT_EVERY > old.seq / CHECKPOINT_EVERY {
                sqlx::query(
                    "INSERT INTO ledger_checkpoints (seq, hash, created_at) VALUES ($1, $2, $3)",
                )
                .bind(new.seq)
                .bind(&new.hash)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }
    };
}

head_ops!(Sqlite, lock_head_sqlite, store_head_sqlite);
head_ops!(Postgres, lock_head_postgres, store_head_postgres);

pub async fn append_sqlite(
    tx: &mut Transaction<'_, Sqlite>,
    entries: Vec<NewEntry>,
    now: i64,
) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let old = lock_head_sqlite(tx, now).await?;
    let (c, new) = seal(old.clone(), entries);
    let n = c.seq.len();
    for start in (0..n).step_by(SQLITE_CHUNK) {
        let mut qb = sqlx::QueryBuilder::new(
            "INSERT INTO ledger (seq, intent_id, message_id, kind, body, hash, created_at) ",
        );
        qb.push_values(start..(start + SQLITE_CHUNK).min(n), |mut b, i| {
            b.push_bind(c.seq[i])
                .push_bind(&c.intent_id[i])
                .push_bind(&c.message_id[i])
                .push_bind(&c.kind[i])
                .push_bind(&c.body[i])
                .push_bind(&c.hash[i])
                .push_bind(c.at[i]);
        });
        qb.build().execute(&mut **tx).await?;
    }
    store_head_sqlite(tx, &old, &new, now).await?;
    Ok(())
}

pub async fn append_postgres(
    tx: &mut Transaction<'_, Postgres>,
    entries: Vec<NewEntry>,
    now: i64,
) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let old = lock_head_postgres(tx, now).await?;
    let (c, new) = seal(old.clone(), entries);
    sqlx::query(
        "INSERT INTO ledger (seq, intent_id, message_id, kind, body, hash, created_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])",
    )
    .bind(&c.seq)
    .bind(&c.intent_id)
    .bind(&c.message_id)
    .bind(&c.kind)
    .bind(&c.body)
    .bind(&c.hash)
    .bind(&c.at)
    .execute(&mut **tx)
    .await?;
    store_head_postgres(tx, &old, &new, now).await?;
    Ok(())
}

impl Db {
    /// Appends entries in a transaction of their own (facts with no other row to write).
    pub async fn append_ledger(&self, entries: Vec<NewEntry>, now: i64) -> anyhow::Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            super::Dialect::append_ledger(&mut tx, entries, now).await?;
            tx.commit().await?;
            anyhow::Ok(())
        })
    }

    /// The recorded head of the chain.
    pub async fn ledger_head(&self) -> anyhow::Result<Head> {
        let (seq, hash) = with_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(
            "SELECT seq, hash FROM ledger_head WHERE id = 1",
        )
        .fetch_one(pool)
        .await)?;
        Ok(Head { seq, hash })
    }

    /// Every recorded checkpoint: seq → hash.
    pub async fn ledger_checkpoints(&self) -> anyhow::Result<BTreeMap<i64, String>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(
            "SELECT seq, hash FROM ledger_checkpoints ORDER BY seq",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().collect())
    }

    /// Up to `limit` entries after `after`, in chain order.
    pub async fn ledger_page(&self, after: i64, limit: i64) -> anyhow::Result<Vec<Row>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, Row>(
            "SELECT seq, body, hash FROM ledger WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// The entries about one intent (and its messages), in chain order.
    pub async fn ledger_for_intent(&self, intent_id: &str) -> anyhow::Result<Vec<Row>> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, Row>(
            "SELECT seq, body, hash FROM ledger WHERE intent_id = $1 ORDER BY seq",
        )
        .bind(intent_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Re-walks the whole chain from the first entry; the first broken link, if any.
    /// Also returns how many entries were walked.
    pub async fn verify_ledger(&self) -> anyhow::Result<(i64, Option<Break>)> {
        let mut walker = Walker::with_checkpoints(self.ledger_checkpoints().await?);
        let mut after = 0;
        let mut walked = 0;
        // The head is read after the walk: entries appended meanwhile (a live system) move
        // it past what was walked, so walk on once; a head still ahead after a walk that
        // found nothing new means entries are missing.
        let mut walked_at_head = None;
        loop {
            loop {
                let page = self.ledger_page(after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for row in &page {
                    if let Err(broken) = walker.feed(row) {
                        return Ok((walked, Some(broken)));
                    }
                    walked += 1;
                }
            }
            let head = self.ledger_head().await?;
            if walker.last().seq < head.seq && walked_at_head != Some(walked) {
                walked_at_head = Some(walked);
                continue;
            }
            return Ok((walked, walker.finish(&head).err()));
        }
    }
}
