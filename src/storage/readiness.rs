//! What `/ready` asks the database: is the schema this binary's, and is a worker alive.

use std::collections::BTreeSet;

use super::{Db, MIGRATIONS_TABLE, with_pool};

impl Db {
    /// Our migrations embedded in this binary that the database has not applied, and
    /// those it has applied that this binary does not know (a newer release migrated
    /// it; this one would refuse to start). Both empty: the schema is current.
    pub async fn migration_drift(&self) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
        // The same directories as `migrate`, compiled in the same way.
        let embedded: BTreeSet<i64> = match self {
            Db::Sqlite(_) => sqlx::migrate!("migrations/sqlite")
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(|m| m.version)
                .collect(),
            Db::Postgres(_) => sqlx::migrate!("migrations/postgres")
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(|m| m.version)
                .collect(),
        };
        let sql = format!("SELECT version FROM {MIGRATIONS_TABLE} WHERE success = true");
        // No table at all is an error too: the database was never migrated.
        let applied: Vec<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await
        })?;
        let applied: BTreeSet<i64> = applied.into_iter().collect();
        Ok((
            embedded.difference(&applied).copied().collect(),
            applied.difference(&embedded).copied().collect(),
        ))
    }

    /// apalis workers of `queue` whose heartbeat is at most `within_secs` old.
    pub async fn live_workers(&self, queue: &str, within_secs: u64) -> anyhow::Result<i64> {
        let within = i64::try_from(within_secs).unwrap_or(i64::MAX);
        let count = match self {
            // apalis' SQLite table keeps last_seen in epoch seconds.
            Db::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM Workers WHERE worker_type = $1 \
                     AND last_seen >= CAST(strftime('%s', 'now') AS INTEGER) - $2",
                )
                .bind(queue)
                .bind(within)
                .fetch_one(pool)
                .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM apalis.workers WHERE worker_type = $1 \
                     AND last_seen >= NOW() - make_interval(secs => $2)",
                )
                .bind(queue)
                .bind(within as f64)
                .fetch_one(pool)
                .await?
            }
        };
        Ok(count)
    }
}
