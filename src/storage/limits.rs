//! Gateway rate limits shared by all worker processes: permits counted per time slot
//! (`slot` is the slot's start, epoch ms).
//!
//! Taking permits is one upsert that adds to the slot's counter only if it stays within
//! the slot's limit, so concurrent workers can never overshoot it together, and it costs
//! one round trip. On PostgreSQL the slot comes from the database's clock, which workers
//! on several machines share; on SQLite (one machine) from this process's.

use super::{Db, with_pool};

const TAKE_SQLITE: &str = "INSERT INTO gateway_slots (gateway, slot, used) VALUES ($1, $2, $3) \
     ON CONFLICT (gateway, slot) DO UPDATE SET used = gateway_slots.used + excluded.used \
     WHERE gateway_slots.used + excluded.used <= $4 RETURNING slot";

const TAKE_POSTGRES: &str = "INSERT INTO gateway_slots (gateway, slot, used) \
     VALUES ($1, (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint / $2 * $2, $3) \
     ON CONFLICT (gateway, slot) DO UPDATE SET used = gateway_slots.used + excluded.used \
     WHERE gateway_slots.used + excluded.used <= $4 RETURNING slot";

impl Db {
    /// Takes `permits` (at most `limit`) in the current `slot_ms`-long slot of `gateway`,
    /// if the slot has them left. Returns whether it did.
    pub async fn take_permits(
        &self,
        gateway: &str,
        permits: i64,
        limit: i64,
        slot_ms: i64,
    ) -> anyhow::Result<bool> {
        let permits = permits.min(limit);
        let taken = match self {
            Db::Sqlite(pool) => sqlx::query(TAKE_SQLITE)
                .bind(gateway)
                .bind(super::now_ms() / slot_ms * slot_ms)
                .bind(permits)
                .bind(limit)
                .fetch_optional(pool)
                .await?
                .is_some(),
            Db::Postgres(pool) => sqlx::query(TAKE_POSTGRES)
                .bind(gateway)
                .bind(slot_ms)
                .bind(permits)
                .bind(limit)
                .fetch_optional(pool)
                .await?
                .is_some(),
        };
        Ok(taken)
    }

    /// Drops the counters of slots that started before `before` (epoch ms).
    pub async fn forget_slots(&self, before: i64) -> anyhow::Result<u64> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM gateway_slots WHERE slot < $1")
            .bind(before)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }
}
