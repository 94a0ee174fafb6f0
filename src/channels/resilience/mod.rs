//! Fault behaviour the dispatcher wraps around each gateway (SMS HTTP providers, SMTP
//! relay, hybrid mail, fax). Pure in-process logic; all time is `tokio::time`, so tests
//! run under paused time.
//!
//! - [`rate`]: [`RateLimiter`], an exact, FIFO token bucket for a provider's rate limit.
//! - [`breaker`]: [`CircuitBreaker`], stop sending to a gateway that keeps failing and
//!   probe it back to health.
//! - [`pool`]: [`ProviderPool`], several providers for one channel, weighted by
//!   configuration and by observed health.
//! - [`Guard`] (here): the three limits for one gateway in the order they must be taken.
//!
//! # Using it from the dispatcher
//! One gateway:
//! ```text
//! let admission = guard.admit(parts).await?;          // Err(Open): reschedule at retry_at
//! match gateway.send(msg).await {
//!     Ok(_) | Err(e) if e.is_about_message() => admission.succeeded(), // gateway answered
//!     Err(_) => admission.failed(),                   // timeout, 5xx, refused: transient
//! }
//! ```
//! Several providers for one channel, each with its own `Guard` whose breaker is also the
//! pool member's breaker (`guard.breaker().clone()`), so there is one state per gateway:
//! ```text
//! let pick = pool.pick()?;                            // Err: reschedule at retry_at
//! let _slot = guards[pick.index()].throttle(parts).await; // breaker already checked
//! match send(pick.provider(), msg).await { … pick.succeeded() / pick.failed() … }
//! pool.record_report_latency(idx, report_at - sent_at); // when the delivery report comes
//! ```
//! A rejection of the message itself (invalid number, unknown mailbox) is reported as
//! success: the gateway is fine. Only transient failures of the gateway count as failures,
//! and an admission or pick dropped unreported counts as one (that is what a timeout
//! around the send does). Use `release()` when nothing was sent.

pub mod breaker;
pub mod pool;
pub mod rate;
pub mod shared;

use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::storage::Db;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, HALF_OPEN_RETRY, Open, Permit};
pub use pool::{Health, Member, Pick, PoolConfig, PoolUnavailable, ProviderPool};
pub use rate::RateLimiter;
pub use shared::SharedRate;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("rate_per_sec must be a finite number of at least 1/3600, got {0}")]
    InvalidRate(f64),
    #[error("burst must be at least 1")]
    ZeroBurst,
    #[error("burst is set but rate_per_sec is not")]
    BurstWithoutRate,
    #[error("concurrency must be at least 1")]
    ZeroConcurrency,
    #[error("breaker.failure_threshold must be at least 1")]
    ZeroThreshold,
    #[error("breaker.open_for must be longer than zero")]
    ZeroOpenFor,
    #[error("breaker.max_open_for must be at least breaker.open_for")]
    MaxOpenForTooShort,
    #[error("a provider pool needs at least one provider with a weight above zero")]
    NoWeight,
    #[error("pool alphas and floor must lie in (0, 1]")]
    PoolConfig,
}

/// A gateway's limits as written in TOML; every field is optional.
/// ```toml
/// rate_per_sec = 20
/// concurrency = 4
/// breaker = { failure_threshold = 5, open_for = "30s", max_open_for = "10m" }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// No rate limit when absent.
    #[serde(default)]
    pub rate_per_sec: Option<f64>,
    /// Defaults to `max(1, rate_per_sec)`.
    #[serde(default)]
    pub burst: Option<u32>,
    /// Requests in flight at once; unlimited when absent.
    #[serde(default)]
    pub concurrency: Option<usize>,
    #[serde(default)]
    pub breaker: BreakerConfig,
}

/// Concurrency, rate and breaker for one gateway.
#[derive(Debug)]
pub struct Guard {
    concurrency: Option<Arc<Semaphore>>,
    rate: Option<RateLimiter>,
    /// The same rate, held in total across worker processes.
    shared: Option<SharedRate>,
    breaker: CircuitBreaker,
}

impl Guard {
    /// `name` labels the breaker's log lines and keys the shared rate limit, held
    /// across processes through `db` when given.
    pub fn new(name: &str, limits: &Limits, db: Option<&Db>) -> Result<Self, ConfigError> {
        let rate = match (limits.rate_per_sec, limits.burst) {
            (Some(rate), burst) => Some(RateLimiter::new(rate, burst)?),
            (None, Some(_)) => return Err(ConfigError::BurstWithoutRate),
            (None, None) => None,
        };
        let concurrency = match limits.concurrency {
            Some(0) => return Err(ConfigError::ZeroConcurrency),
            Some(n) => Some(Arc::new(Semaphore::new(n))),
            None => None,
        };
        let breaker = CircuitBreaker::new(name, limits.breaker.clone())?;
        let shared = match (db, limits.rate_per_sec) {
            (Some(db), Some(rate)) => {
                Some(SharedRate::new(db.clone(), name, rate, limits.concurrency))
            }
            _ => None,
        };
        Ok(Self {
            concurrency,
            rate,
            shared,
            breaker,
        })
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.rate.as_ref()
    }

    /// The most messages one request may carry within the rate limit: the local bucket's
    /// burst (a bigger request would land more than the provider allows at one instant,
    /// however long it waited for its tokens) and the shared limit's slot (the most it
    /// grants, and counts, at once).
    pub fn largest_request(&self) -> usize {
        let burst = self
            .rate
            .as_ref()
            .map_or(usize::MAX, |r| r.burst() as usize);
        let slot = self
            .shared
            .as_ref()
            .map_or(usize::MAX, SharedRate::per_slot);
        burst.min(slot).max(1)
    }

    /// Admits one request costing `n` rate tokens (e.g. SMS parts; it takes one
    /// concurrency slot whatever `n`, since it is one request).
    ///
    /// The breaker comes first so an open gateway fails fast instead of queueing for rate
    /// tokens it will not use. The concurrency slot comes before the rate tokens so the
    /// token slot is booked only when the request can go out right after it. If the
    /// breaker changed state while we waited, the attempt is re-checked, so a burst of
    /// queued senders does not land on a gateway that has just been declared down.
    /// Cancelling the returned future records nothing against the gateway.
    pub async fn admit(&self, n: u32) -> Result<Admission, Open> {
        let mut pending = ReleaseOnDrop(Some(self.breaker.check()?));
        let slot = self.throttle(n).await;
        let mut permit = pending.take();
        if !self.breaker.is_current(&permit) {
            permit.release();
            permit = self.breaker.check()?;
        }
        Ok(Admission {
            permit,
            _slot: slot,
        })
    }

    /// Only concurrency and rate, for callers that hold a breaker permit already (a
    /// [`Pick`] from a pool sharing this guard's breaker).
    pub async fn throttle(&self, n: u32) -> Throttle {
        let slot = match &self.concurrency {
            Some(semaphore) => Some(
                semaphore
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the guard never closes its semaphore"),
            ),
            None => None,
        };
        if let Some(rate) = &self.rate {
            rate.acquire(n).await;
        }
        if let Some(shared) = &self.shared {
            shared.acquire(n).await;
        }
        Throttle { _slot: slot }
    }
}

/// Holds a concurrency slot until dropped.
#[derive(Debug)]
pub struct Throttle {
    _slot: Option<OwnedSemaphorePermit>,
}

/// Leave to send one request through a [`Guard`]. Holds its concurrency slot until the
/// outcome is reported; dropped unreported, it counts as a gateway failure.
#[derive(Debug)]
#[must_use = "report the outcome with succeeded / failed / release"]
pub struct Admission {
    permit: Permit,
    _slot: Throttle,
}

impl Admission {
    /// True when this request is the breaker's half-open probe.
    pub fn is_probe(&self) -> bool {
        self.permit.is_probe()
    }

    /// The gateway answered: accepted, or rejected the message for a reason of its own.
    pub fn succeeded(self) {
        self.permit.record_success();
    }

    /// Transient gateway failure: timeout, connection refused, 5xx, 429.
    pub fn failed(self) {
        self.permit.record_failure();
    }

    /// Nothing was sent, or the outcome says nothing about the gateway.
    pub fn release(self) {
        self.permit.release();
    }
}

/// While `admit` waits, a cancelled caller must not count as a gateway failure.
struct ReleaseOnDrop(Option<Permit>);

impl ReleaseOnDrop {
    fn take(&mut self) -> Permit {
        self.0.take().expect("taken once")
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Some(permit) = self.0.take() {
            permit.release();
        }
    }
}

#[cfg(test)]
mod tests;
