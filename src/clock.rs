//! The time dispatch plans by. Production reads the system clock, kept in step with the
//! database's; tests set and advance a fake one to see hours of deadline logic (windows,
//! confirmation waits, latest starts) in milliseconds.
//!
//! Why the database's time: on PostgreSQL, workers on several machines write message
//! leases and compare them with each other's. A worker whose clock runs a lease ahead of
//! the others would see their live claims as expired and send those messages again, so
//! every process measures how far the database's clock is from its own ([`keep_in_step`])
//! and reads that time instead. SQLite is one process on one machine: nothing to align.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::storage::Db;

/// How often a process measures the database's clock again: clocks drift by well under a
/// second a day, so this only catches steps (a machine's clock being set).
const MEASURE_EVERY: Duration = Duration::from_secs(60);

/// A round trip longer than this leaves the offset unsure by more than half of it.
const TRUSTED_TRIP: Duration = Duration::from_millis(250);

/// An offset this large is worth an operator's attention (NTP is not running).
const WARN_OFFSET_MS: i64 = 1_000;

/// The database's clock minus this machine's (ms), as last measured. One per process: the
/// machine's clock is, and a process works against one database server.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// The system clock in the database's time (epoch ms): what [`Clock::system`] reads, and
/// what stamps things that arrive (delivery reports) in every mode.
pub fn system_now_ms() -> i64 {
    Utc::now().timestamp_millis() + OFFSET_MS.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock; otherwise a settable instant (epoch ms).
    fake: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock standing at `at` until moved.
    pub fn fake(at: DateTime<Utc>) -> Self {
        Self {
            fake: Some(Arc::new(AtomicI64::new(at.timestamp_millis()))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_else(Utc::now)
    }

    pub fn now_ms(&self) -> i64 {
        match &self.fake {
            Some(at) => at.load(Ordering::SeqCst),
            None => system_now_ms(),
        }
    }

    /// Moves a fake clock to `at`; a no-op on the system clock.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(fake) = &self.fake {
            fake.store(at.timestamp_millis(), Ordering::SeqCst);
        }
    }

    /// Measures the database's clock and reads it from now on. Returns the offset, or
    /// `None` where there is nothing to follow (SQLite, a fake clock); an error leaves the
    /// previous offset in place.
    pub async fn step_with(&self, db: &Db) -> anyhow::Result<Option<i64>> {
        if self.fake.is_some() {
            return Ok(None);
        }
        let Some(samples) = db.clock_samples(3).await? else {
            return Ok(None);
        };
        // The sample with the shortest round trip bounds the error best (half of it).
        let Some((remote, local, trip)) = samples.into_iter().min_by_key(|s| s.2) else {
            return Ok(None);
        };
        anyhow::ensure!(
            trip <= TRUSTED_TRIP,
            "the database took {} ms to tell its time, too long to trust; keeping the last offset",
            trip.as_millis()
        );
        let offset = remote - (local + trip.as_millis() as i64 / 2);
        OFFSET_MS.store(offset, Ordering::Relaxed);
        Ok(Some(offset))
    }
}

/// Keeps `clock` in step with the database's until `stop` completes: measures at once,
/// then every minute, and exports the offset as `vestnik_clock_offset_seconds`.
pub async fn keep_in_step(
    clock: Clock,
    db: Db,
    metrics: Metrics,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut warned = false;
    loop {
        match clock.step_with(&db).await {
            Ok(None) => return,
            Ok(Some(offset)) => {
                metrics.clock_offset(offset);
                let off = offset.abs() >= WARN_OFFSET_MS;
                if off && !warned {
                    warn!(
                        offset_ms = offset,
                        "this machine's clock differs from the database's; keeping the \
                         database's time (run NTP)"
                    );
                } else if !off && warned {
                    info!(offset_ms = offset, "this machine's clock is in step again");
                }
                warned = off;
            }
            Err(e) => warn!(
                error = format!("{e:#}"),
                "could not read the database's clock"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(MEASURE_EVERY) => {}
            _ = &mut stop => return,
        }
    }
}
