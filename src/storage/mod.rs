//! Persistence on SQLite (embedded default) or PostgreSQL (scale-out), one code base.
//!
//! SQL is shared wherever the dialects agree (`$1` placeholders work on both); the few
//! statements that differ live behind [`Dialect`] (a group of delivery reports' behind
//! `receipt_groups::GroupStatements`). Times are epoch milliseconds.

mod bulk;
mod callbacks;
mod compliance;
mod intents;
pub mod ledger;
mod limits;
mod messages;
mod proofs;
mod readiness;
mod receipt_groups;
mod receipts;
mod reports;
mod templates;
mod tokens;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use callbacks::CallbackEvent;
pub use compliance::AtRiskRow;
pub use intents::{Details, InsertOutcome, IntentRow, MessageRow, RecipientRow, Submission};
pub use messages::{Claimed, Outcome, OutcomeStatus};
pub use proofs::{PURGED, ProofIntent, ProofMessage, ProofReceipt, ProofRows, Purged};
pub use receipts::{NewReceipt, PollDue, ReceiptMessage, ReceiptOutcome, ReportDelays};
pub use reports::LegalFactRow;
pub use templates::{ActivationRow, TemplateChange, TemplateVersionRow, previous_version};
pub use tokens::TokenRow;

/// Where our migrations are recorded; apalis keeps its own in sqlx's default table.
pub(crate) const MIGRATIONS_TABLE: &str = "_vestnik_migrations";

/// A connection pool to whichever backend the database URL names.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool: the same SQL text compiles for
/// both backends, and dialect-specific calls resolve through [`Dialect`].
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Db {
    /// Connects by URL: `sqlite://PATH` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("bad SQLite URL {url}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL in WAL mode survives a process crash (kill -9); only a power cut
                // may lose the last transactions. Set FULL via the URL for the latter.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            if let Some(parent) = Path::new(options.get_filename()).parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(options)
                .await
                .with_context(|| format!("cannot open SQLite database {url}"))?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .with_context(|| "bad PostgreSQL URL".to_string())?;
            let port = options.get_port();
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .after_connect(move |_, _| {
                    Box::pin(async move {
                        crate::nodelay::set_on_connections_to(port);
                        Ok(())
                    })
                })
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Self::Postgres(pool))
        } else {
            anyhow::bail!("database.url must start with sqlite:// or postgres://")
        }
    }

    /// Creates or upgrades the schema: apalis' queue tables, then ours.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => {
                apalis_sqlite::SqliteStorage::setup(pool)
                    .await
                    .context("apalis SQLite setup")?;
                // apalis' own migrations use sqlx's default table; ours must not collide.
                let mut ours = sqlx::migrate!("migrations/sqlite");
                ours.dangerous_set_table_name(MIGRATIONS_TABLE);
                ours.run(pool).await.context("Vestnik SQLite migrations")?;
            }
            Db::Postgres(pool) => {
                apalis_postgres::PostgresStorage::setup(pool)
                    .await
                    .context("apalis PostgreSQL setup")?;
                let mut ours = sqlx::migrate!("migrations/postgres");
                ours.dangerous_set_table_name(MIGRATIONS_TABLE);
                ours.run(pool)
                    .await
                    .context("Vestnik PostgreSQL migrations")?;
            }
        }
        Ok(())
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }
}

/// The statements whose text or mechanics differ between SQLite and PostgreSQL.
pub trait Dialect: sqlx::Database {
    /// Adds delivery jobs to the apalis queue inside the caller's transaction, so the jobs
    /// commit (or vanish) together with the rows they deliver.
    fn push_jobs(
        tx: &mut sqlx::Transaction<'_, Self>,
        queue: &str,
        jobs: Vec<apalis::prelude::Task<Vec<u8>>>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Writes an intent's recipient and message rows (see [`bulk`]).
    fn insert_rows(
        tx: &mut sqlx::Transaction<'_, Self>,
        intent_id: &str,
        now: i64,
        recipients: &bulk::RecipientColumns,
        messages: &bulk::MessageColumns,
    ) -> impl Future<Output = sqlx::Result<()>> + Send;

    /// `UPDATE messages … FROM (VALUES …)` for `rows` rows of [`messages::OUTCOME_COLUMNS`],
    /// then the claim id as the last parameter.
    fn update_outcomes_sql(rows: usize) -> String;

    /// Run in the outcomes' transaction before that `UPDATE`, if not empty.
    const OUTCOMES_SETUP: &'static str;

    /// Appends ledger entries after the chain's head, in the caller's transaction (see
    /// [`ledger`]).
    fn append_ledger(
        tx: &mut sqlx::Transaction<'_, Self>,
        entries: Vec<ledger::NewEntry>,
        now: i64,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

impl Dialect for sqlx::Sqlite {
    async fn push_jobs(
        tx: &mut sqlx::Transaction<'_, Self>,
        queue: &str,
        jobs: Vec<apalis::prelude::Task<Vec<u8>>>,
    ) -> anyhow::Result<()> {
        apalis_sqlite::queries::push_tasks(&mut **tx, queue, &jobs).await?;
        Ok(())
    }

    async fn insert_rows(
        tx: &mut sqlx::Transaction<'_, Self>,
        intent_id: &str,
        now: i64,
        recipients: &bulk::RecipientColumns,
        messages: &bulk::MessageColumns,
    ) -> sqlx::Result<()> {
        bulk::sqlite_insert(tx, intent_id, now, recipients, messages).await
    }

    async fn append_ledger(
        tx: &mut sqlx::Transaction<'_, Self>,
        entries: Vec<ledger::NewEntry>,
        now: i64,
    ) -> anyhow::Result<()> {
        ledger::append_sqlite(tx, entries, now).await
    }

    const OUTCOMES_SETUP: &'static str = "";

    fn update_outcomes_sql(rows: usize) -> String {
        // SQLite names VALUES columns column1…columnN and cannot alias them.
        format!(
            "UPDATE messages SET status = v.column2, last_error = v.column3, gateway = v.column4, \
             gateway_message_id = v.column5, content_sha256 = v.column6, template = v.column7, \
             sent_at = v.column8, next_attempt_at = v.column9, lease_until = NULL, updated_at = v.column10, \
             attempts = messages.attempts - v.column11, \
             sms_encoding = COALESCE(v.column12, messages.sms_encoding), \
             sms_parts = COALESCE(v.column13, messages.sms_parts), \
             content = COALESCE(v.column14, messages.content) \
             FROM (VALUES {}) AS v WHERE messages.id = v.column1 AND messages.status = 'sending' \
             AND messages.claim_id = ? RETURNING id",
            messages::values_placeholders(rows, false),
        )
    }
}

impl Dialect for sqlx::Postgres {
    async fn push_jobs(
        tx: &mut sqlx::Transaction<'_, Self>,
        queue: &str,
        jobs: Vec<apalis::prelude::Task<Vec<u8>>>,
    ) -> anyhow::Result<()> {
        apalis_postgres::queries::push_tasks(&mut **tx, queue, jobs).await?;
        Ok(())
    }

    async fn insert_rows(
        tx: &mut sqlx::Transaction<'_, Self>,
        intent_id: &str,
        now: i64,
        recipients: &bulk::RecipientColumns,
        messages: &bulk::MessageColumns,
    ) -> sqlx::Result<()> {
        bulk::postgres_insert(tx, intent_id, now, recipients, messages).await
    }

    async fn append_ledger(
        tx: &mut sqlx::Transaction<'_, Self>,
        entries: Vec<ledger::NewEntry>,
        now: i64,
    ) -> anyhow::Result<()> {
        ledger::append_postgres(tx, entries, now).await
    }

    // Right after a big intake the statistics say almost no message is `sending`, so the
    // planner expects one row from `messages` and joins it to the VALUES by a nested loop:
    // 500 × 500 comparisons of wide rows, ~350 ms per 500 outcomes. A hash join takes
    // ~20 ms whatever the statistics say. Nothing else in that transaction joins.
    const OUTCOMES_SETUP: &'static str = "SET LOCAL enable_nestloop = off";

    fn update_outcomes_sql(rows: usize) -> String {
        format!(
            "UPDATE messages m SET status = v.status, last_error = v.last_error, gateway = v.gateway, \
             gateway_message_id = v.gateway_message_id, content_sha256 = v.content_sha256, \
             template = v.template, sent_at = v.sent_at::bigint, next_attempt_at = v.next_attempt_at::bigint, \
             lease_until = NULL, updated_at = v.updated_at::bigint, attempts = m.attempts - v.refund::bigint, \
             sms_encoding = COALESCE(v.sms_encoding, m.sms_encoding), \
             sms_parts = COALESCE(v.sms_parts::bigint, m.sms_parts), \
             content = COALESCE(v.content::bytea, m.content) \
             FROM (VALUES {}) AS v(id, status, last_error, gateway, gateway_message_id, content_sha256, \
             template, sent_at, next_attempt_at, updated_at, refund, sms_encoding, sms_parts, content) \
             WHERE m.id = v.id AND m.status = 'sending' AND m.claim_id = ${} \
             RETURNING m.id",
            messages::values_placeholders(rows, true),
            rows * messages::OUTCOME_COLUMNS + 1
        )
    }
}

/// Now, in the storage's time unit, by the database's clock ([`crate::clock`]).
pub fn now_ms() -> i64 {
    crate::clock::system_now_ms()
}

impl Db {
    /// Reads the database server's clock (epoch ms) `samples` times on one connection,
    /// each with the machine's clock (epoch ms) and `Instant` just before and the round
    /// trip: what [`crate::clock`] keeps time by. `None` on SQLite, which runs inside
    /// this process. The connection is taken first, so waiting for the pool is not
    /// counted in a round trip.
    pub async fn clock_samples(
        &self,
        samples: usize,
    ) -> anyhow::Result<Option<Vec<(i64, i64, std::time::Duration)>>> {
        let Db::Postgres(pool) = self else {
            return Ok(None);
        };
        let mut conn = pool.acquire().await?;
        let mut out = Vec::with_capacity(samples);
        for _ in 0..samples {
            let local = chrono::Utc::now().timestamp_millis();
            let sent = std::time::Instant::now();
            let remote: i64 =
                sqlx::query_scalar("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint")
                    .fetch_one(&mut *conn)
                    .await?;
            out.push((remote, local, sent.elapsed()));
        }
        Ok(Some(out))
    }
}
