//! A gateway's rate limit held across every worker process, through the database.
//!
//! Time is cut into `k` slots per second, each allowing `L` permits, counted in the
//! database ([`crate::storage::Db::take_permits`]). Any one second of the provider's
//! clock overlaps at most `k + 1` slots, and a permit is used within [`HOLD`] of being
//! taken, so a second sees permits from at most `k + 2` slots: with `L ≤ rate / (k + 2)`
//! the provider never gets more than its limit in any second, whatever the number of
//! workers. `k` (up to 10) is chosen to waste the least: 500/s gives 41 per 100 ms slot,
//! 410/s at most (82%); slow gateways lose more (5/s gives 1 per 500 ms, 2/s).
//!
//! Each process takes small blocks (at most `L`, and no more than it has requests in
//! flight) and hands them out locally; a block not used within [`HOLD`] is dropped.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::storage::Db;

/// How long a block may be used after it is taken.
pub const HOLD: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub struct SharedRate {
    db: Db,
    gateway: String,
    slot_ms: i64,
    per_slot: i64,
    block: u32,
    local: Mutex<Local>,
}

#[derive(Debug)]
struct Local {
    permits: u32,
    until: Instant,
}

/// Slot length (ms) and permits per slot for `rate` per second (see the module docs).
pub fn slots(rate_per_sec: f64) -> (i64, i64) {
    let best = (1..=10)
        .map(|k: i64| {
            let slot_ms = 1000 / k;
            (
                slot_ms,
                (rate_per_sec / touched(slot_ms) as f64).floor() as i64,
            )
        })
        .filter(|(_, per_slot)| *per_slot >= 1)
        .max_by_key(|(slot_ms, per_slot)| (per_slot * 1_000_000 / slot_ms, -slot_ms));
    match best {
        Some(best) => best,
        // Under 3 per second: one permit per 3 / rate seconds, so the average holds and
        // no stretch of 3 / rate seconds sees more than three.
        None => ((3000.0 / rate_per_sec).ceil() as i64, 1),
    }
}

/// Slots of `slot_ms` whose permits can reach the provider within one second: those the
/// second overlaps, and one more whose permits were held past its end.
pub fn touched(slot_ms: i64) -> i64 {
    (1000 + slot_ms - 1) / slot_ms + 2
}

impl SharedRate {
    pub fn new(db: Db, gateway: &str, rate_per_sec: f64, concurrency: Option<usize>) -> Self {
        let (slot_ms, per_slot) = slots(rate_per_sec);
        let in_flight = concurrency.map_or(u32::MAX, |c| u32::try_from(c).unwrap_or(u32::MAX));
        Self {
            db,
            gateway: gateway.to_owned(),
            slot_ms,
            per_slot,
            block: (per_slot as u32).min(in_flight).max(1),
            local: Mutex::new(Local {
                permits: 0,
                until: Instant::now(),
            }),
        }
    }

    /// The most permits one request can be granted in full (a slot's worth).
    pub fn per_slot(&self) -> usize {
        usize::try_from(self.per_slot).unwrap_or(1).max(1)
    }

    /// Waits until `n` permits are this process's to use. If the database cannot be
    /// asked, the process goes on within its own limit only, and says so.
    pub async fn acquire(&self, n: u32) {
        // A request bigger than a slot's worth still goes, alone in its slot.
        let n = n.clamp(1, self.per_slot as u32);
        let mut local = self.local.lock().await;
        loop {
            if Instant::now() < local.until && local.permits >= n {
                local.permits -= n;
                return;
            }
            let want = self.block.max(n);
            // Bounded: a database that does not answer must not stop every sender.
            let taken = tokio::time::timeout(
                Duration::from_secs(2),
                self.db
                    .take_permits(&self.gateway, i64::from(want), self.per_slot, self.slot_ms),
            )
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within 2 s")));
            match taken {
                Ok(true) => {
                    local.permits = want - n;
                    local.until = Instant::now() + HOLD;
                    return;
                }
                Ok(false) => {
                    // The slot is spent: try again at the next one.
                    let now = crate::storage::now_ms();
                    let next = (now / self.slot_ms + 1) * self.slot_ms;
                    tokio::time::sleep(Duration::from_millis((next - now).clamp(1, 3000) as u64))
                        .await;
                }
                Err(e) => {
                    tracing::warn!(gateway = %self.gateway, error = %e,
                        "shared rate limit unavailable; holding to this process's limit only");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::slots;

    #[test]
    fn slots_never_allow_more_than_the_rate_in_any_second() {
        for rate in [3.0, 5.0, 12.0, 50.0, 100.0, 500.0, 10_000.0] {
            let (slot_ms, per_slot) = slots(rate);
            // Worst case: every slot a second can touch spent in full within it.
            let per_second = super::touched(slot_ms) * per_slot;
            let allowed = rate.max(1.0).ceil() as i64;
            assert!(
                per_second <= allowed,
                "{rate}/s: {per_second} in a second ({slot_ms} ms × {per_slot})"
            );
            assert!(per_slot >= 1);
        }
        assert_eq!(slots(500.0), (100, 41));
        assert_eq!(slots(5.0), (500, 1));
        // Below 3/s the bound is on average: one permit per 3 / rate seconds.
        for rate in [0.5, 1.0, 2.0] {
            let (slot_ms, per_slot) = slots(rate);
            assert_eq!(per_slot, 1);
            assert!(slot_ms as f64 >= 3000.0 / rate, "{rate}/s: {slot_ms} ms");
        }
    }
}
