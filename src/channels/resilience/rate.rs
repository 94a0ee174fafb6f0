//! Token-bucket rate limiting for one gateway.
//!
//! Implemented as a reservation scheme (GCRA, the "virtual scheduling" form of a token
//! bucket) rather than a counter that callers poll: the limiter keeps one instant, the
//! *theoretical arrival time* (`tat`) at which the bucket would be empty again if nothing
//! more were taken. Taking `n` tokens pushes `tat` forward by `n / rate`; the caller may
//! go as soon as `tat` is no more than `burst / rate` ahead of now. Each caller reserves
//! its slot under a short lock and then sleeps outside it, so:
//! - it is exact: grants never exceed `burst + rate × window` in any window;
//! - it is fair: slots are handed out in the order callers arrive (FIFO), nobody spins;
//! - `n` larger than `burst` simply waits proportionally longer and never deadlocks,
//!   where a counting bucket capped at `burst` could never hold `n` tokens.
//!
//! A cancelled [`RateLimiter::acquire`] keeps its reservation: handing the slot back
//! would shift every later reservation, and erring on the slow side never breaks a
//! provider's contract.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::ConfigError;

/// Shared by every sender to one gateway (wrap it in an `Arc`, or in a [`super::Guard`]).
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_sec: f64,
    burst: u32,
    /// `burst / rate`: how far ahead of now `tat` may run before callers must wait.
    tolerance: Duration,
    tat: Mutex<Instant>,
}

impl RateLimiter {
    /// Slowest rate accepted. Anything slower is a schedule, not a rate limit, and the
    /// floor keeps `u32::MAX` tokens' worth of time far inside `Instant`'s range.
    pub const MIN_RATE_PER_SEC: f64 = 1.0 / 3600.0;

    /// `burst` defaults to `max(1, rate)`: one second's worth, the usual way providers
    /// word their limits ("20 messages per second"). The bucket starts full.
    pub fn new(rate_per_sec: f64, burst: Option<u32>) -> Result<Self, ConfigError> {
        if !rate_per_sec.is_finite() || rate_per_sec < Self::MIN_RATE_PER_SEC {
            return Err(ConfigError::InvalidRate(rate_per_sec));
        }
        // `as` saturates, so an absurd rate gives u32::MAX rather than wrapping.
        let burst = burst.unwrap_or(rate_per_sec.max(1.0) as u32);
        if burst == 0 {
            return Err(ConfigError::ZeroBurst);
        }
        Ok(Self {
            rate_per_sec,
            burst,
            tolerance: Duration::from_secs_f64(f64::from(burst) / rate_per_sec),
            tat: Mutex::new(Instant::now()),
        })
    }

    pub fn rate_per_sec(&self) -> f64 {
        self.rate_per_sec
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Waits until `n` tokens are available and takes them. Callers are served in the
    /// order they call; `n == 0` returns at once.
    pub async fn acquire(&self, n: u32) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        let ready_at = self.reserve(n, now, true);
        if ready_at > now {
            tokio::time::sleep_until(ready_at).await;
        }
    }

    /// Takes `n` tokens if they are available right now. Never jumps the queue: tokens
    /// reserved by waiting [`acquire`](Self::acquire) calls are not available. Always
    /// false for `n > burst`, which only `acquire` can satisfy.
    pub fn try_acquire(&self, n: u32) -> bool {
        let now = Instant::now();
        n == 0 || self.reserve(n, now, false) <= now
    }

    /// Computes when `n` tokens are ready and, if `wait` or they are ready now, books them.
    /// Returns the ready instant (a value after `now` with `wait == false` means "not booked").
    fn reserve(&self, n: u32, now: Instant, wait: bool) -> Instant {
        let mut tat = self.lock();
        // An idle limiter's `tat` lies in the past: the bucket is full, not "owed" tokens.
        let start = (*tat).max(now);
        let new_tat = start + Duration::from_secs_f64(f64::from(n) / self.rate_per_sec);
        let ready_at = new_tat
            .checked_sub(self.tolerance)
            .map_or(now, |at| at.max(now));
        if wait || ready_at <= now {
            *tat = new_tat;
        }
        ready_at
    }

    fn lock(&self) -> MutexGuard<'_, Instant> {
        // The guarded instant is always valid, so a panic elsewhere cannot leave it torn.
        self.tat.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn secs(from: Instant) -> f64 {
        from.elapsed().as_secs_f64()
    }

    #[test]
    fn rejects_bad_config() {
        assert!(RateLimiter::new(0.0, None).is_err());
        assert!(RateLimiter::new(f64::NAN, None).is_err());
        assert!(RateLimiter::new(-1.0, None).is_err());
        assert_eq!(
            RateLimiter::new(5.0, Some(0)).unwrap_err(),
            ConfigError::ZeroBurst
        );
        assert_eq!(RateLimiter::new(0.5, None).unwrap().burst(), 1);
        assert_eq!(RateLimiter::new(20.0, None).unwrap().burst(), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_is_free_then_paced() {
        let limiter = RateLimiter::new(10.0, Some(3)).unwrap();
        assert!((0..3).all(|_| limiter.try_acquire(1)));
        assert!(!limiter.try_acquire(1));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(limiter.try_acquire(1));
        assert!(!limiter.try_acquire(1));
    }

    #[tokio::test(start_paused = true)]
    async fn hundred_at_twenty_per_second_take_five_seconds() {
        // Burst 1: the first is free, the other 99 are 50 ms apart.
        let limiter = RateLimiter::new(20.0, Some(1)).unwrap();
        let start = Instant::now();
        for _ in 0..100 {
            limiter.acquire(1).await;
        }
        let took = secs(start);
        assert!((4.94..=4.96).contains(&took), "took {took}");

        // Default burst (20): the first 20 are free, the other 80 take 4 s.
        let limiter = RateLimiter::new(20.0, None).unwrap();
        let start = Instant::now();
        for _ in 0..100 {
            limiter.acquire(1).await;
        }
        let took = secs(start);
        assert!((3.99..=4.01).contains(&took), "took {took}");
    }

    #[tokio::test(start_paused = true)]
    async fn more_than_burst_waits_proportionally() {
        let limiter = RateLimiter::new(10.0, Some(5)).unwrap();
        assert!(
            !limiter.try_acquire(6),
            "try_acquire can never exceed burst"
        );
        let start = Instant::now();
        limiter.acquire(50).await; // 5 in the bucket, 45 more at 10/s
        let took = secs(start);
        assert!((4.49..=4.51).contains(&took), "took {took}");
        limiter.acquire(1).await;
        let took = secs(start);
        assert!((4.59..=4.61).contains(&took), "took {took}");
    }

    #[tokio::test(start_paused = true)]
    async fn try_acquire_does_not_jump_the_queue() {
        let limiter = Arc::new(RateLimiter::new(1.0, Some(1)).unwrap());
        assert!(limiter.try_acquire(1));
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(1).await }
        });
        tokio::task::yield_now().await; // let the waiter book the next slot (t = 1 s)
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert!(
            !limiter.try_acquire(1),
            "the t = 1 s slot belongs to the waiter"
        );
        waiter.await.unwrap();
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert!(limiter.try_acquire(1));
    }

    /// Runs 8 tasks taking 25 tokens each; returns each task's grant times in seconds
    /// from the start.
    async fn eight_tasks(limiter: RateLimiter) -> Vec<Vec<f64>> {
        let limiter = Arc::new(limiter);
        let start = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let mut grants = Vec::new();
                    for _ in 0..25 {
                        limiter.acquire(1).await;
                        grants.push(secs(start));
                    }
                    grants
                })
            })
            .collect();
        let mut per_task = Vec::new();
        for task in tasks {
            per_task.push(task.await.unwrap());
        }
        per_task
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_acquirers_never_exceed_rate_plus_burst() {
        let per_task = eight_tasks(RateLimiter::new(20.0, None).unwrap()).await;
        let mut grants: Vec<f64> = per_task.into_iter().flatten().collect();
        grants.sort_by(f64::total_cmp);
        assert_eq!(grants.len(), 200);
        for (i, &from) in grants.iter().enumerate() {
            let in_window = grants[i..].iter().take_while(|&&t| t < from + 1.0).count();
            assert!(
                in_window <= 20 + 20,
                "{in_window} grants in the second from {from}"
            );
        }
        // 200 tokens, 20 free: the last is granted at 9 s.
        let last = grants[199];
        assert!((8.99..=9.01).contains(&last), "last grant at {last}");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_acquirers_take_turns() {
        // Burst 1 so no task can take a run of free tokens: every grant is a booked slot,
        // and FIFO booking makes the waiting tasks take turns.
        let per_task = eight_tasks(RateLimiter::new(20.0, Some(1)).unwrap()).await;
        let last = per_task.iter().flatten().cloned().fold(0.0, f64::max);
        assert!((9.94..=9.96).contains(&last), "last grant at {last}");
        // Halfway (100 tokens granted), each task has had its 1/8th, give or take one.
        for grants in &per_task {
            let by_half = grants.iter().filter(|&&t| t < 5.0).count();
            assert!(
                (11..=14).contains(&by_half),
                "{by_half} grants by 5 s: {grants:?}"
            );
        }
    }
}
