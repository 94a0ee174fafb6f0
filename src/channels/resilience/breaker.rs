//! Circuit breaker for one gateway: stop sending to a gateway that keeps failing, and
//! find out with a single probe when it is back.
//!
//! ```text
//! Closed --failure_threshold consecutive failures--> Open { until = now + open_for }
//! Open   --until passed, next check() takes the probe--> HalfOpen
//! HalfOpen --probe succeeded--> Closed (backoff reset to open_for)
//! HalfOpen --probe failed----> Open for twice as long as last time, capped at max_open_for
//! ```
//!
//! # What counts as a failure
//! Only failures of the *gateway*: timeouts, connection refused or reset, TLS errors,
//! HTTP 5xx and 429, SMTP transient (4xx) replies, a hybrid-mail API that is down. A
//! permanent rejection of the *message* (HTTP 400 "invalid number", SMTP 550 "no such
//! user") proves the gateway is up and answering: the caller must report it as success,
//! never as failure, or one batch of bad phone numbers would cut a healthy gateway off
//! for every other message.
//!
//! # Permits
//! [`CircuitBreaker::check`] hands out a [`Permit`]; the caller sends and then reports on
//! it. A permit dropped without a verdict counts as a **failure**: the usual way to lose
//! one is a timeout or cancellation around the send, which is a gateway failure, and for
//! the probe any other rule could leave the breaker half-open forever. Use
//! [`Permit::release`] for an attempt that says nothing about the gateway (never sent,
//! shutting down). Verdicts on permits issued before the breaker last changed state are
//! ignored: requests that were in flight when it opened must not extend the open time,
//! and only the probe decides whether it closes.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::ConfigError;

/// While the probe is out nobody knows when the gateway will be usable, so callers
/// turned away are told to come back after this short interval.
pub const HALF_OPEN_RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive transient failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the first opening lasts.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
    /// Each failed probe doubles the open time, up to this.
    #[serde(with = "humantime_serde")]
    pub max_open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
            max_open_for: Duration::from_secs(600),
        }
    }
}

impl BreakerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.failure_threshold == 0 {
            return Err(ConfigError::ZeroThreshold);
        }
        if self.open_for.is_zero() {
            return Err(ConfigError::ZeroOpenFor);
        }
        if self.max_open_for < self.open_for {
            return Err(ConfigError::MaxOpenForTooShort);
        }
        Ok(())
    }
}

/// Returned when the breaker turns a caller away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("gateway circuit breaker is open")]
pub struct Open {
    /// Earliest instant a new attempt can be admitted.
    pub retry_at: Instant,
}

/// The breaker's state for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// What [`super::ProviderPool`] needs to know without taking a permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Closed,
    ProbeDue,
    Unavailable { retry_at: Instant },
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    /// Bumped on every state change; permits carry the value they were issued under.
    generation: u64,
    /// Current open time: `open_for`, doubled per failed probe.
    backoff: Duration,
}

#[derive(Debug)]
struct Shared {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone, Copy)]
enum Verdict {
    Success,
    Failure,
    Release,
}

/// Cheap to clone; clones share one state (a [`super::Guard`] and a
/// [`super::ProviderPool`] can hold the same breaker for one gateway).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl CircuitBreaker {
    /// `name` labels the log lines for state changes.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let inner = Inner {
            phase: Phase::Closed { failures: 0 },
            generation: 0,
            backoff: config.open_for,
        };
        let shared = Shared {
            name: name.into(),
            config,
            inner: Mutex::new(inner),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    /// Admits one attempt, or turns it away while the gateway is presumed down. Once the
    /// open time has passed exactly one caller gets the probe; the rest wait for it.
    pub fn check(&self) -> Result<Permit, Open> {
        let now = Instant::now();
        let mut inner = self.shared.lock();
        let probe = match inner.phase {
            Phase::Closed { .. } => false,
            Phase::Open { until } if now < until => return Err(Open { retry_at: until }),
            Phase::Open { .. } => {
                inner.phase = Phase::HalfOpen;
                inner.generation += 1;
                tracing::info!(breaker = %self.shared.name, "circuit breaker half-open: probing");
                true
            }
            Phase::HalfOpen => {
                return Err(Open {
                    retry_at: now + HALF_OPEN_RETRY,
                });
            }
        };
        Ok(Permit {
            shared: Some(self.shared.clone()),
            generation: inner.generation,
            probe,
        })
    }

    /// State for metrics. An open breaker whose time is up reads "open" until a caller
    /// takes the probe.
    pub fn state(&self) -> BreakerState {
        match self.shared.lock().phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen => BreakerState::HalfOpen,
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub(super) fn status(&self, now: Instant) -> Status {
        match self.shared.lock().phase {
            Phase::Closed { .. } => Status::Closed,
            Phase::Open { until } if now < until => Status::Unavailable { retry_at: until },
            Phase::Open { .. } => Status::ProbeDue,
            Phase::HalfOpen => Status::Unavailable {
                retry_at: now + HALF_OPEN_RETRY,
            },
        }
    }

    /// False once the breaker has changed state since `permit` was issued, so a verdict
    /// on it would be ignored.
    pub(super) fn is_current(&self, permit: &Permit) -> bool {
        self.shared.lock().generation == permit.generation
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every transition is a single assignment, so a poisoned lock holds a valid state.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn resolve(&self, generation: u64, verdict: Verdict) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        let config = &self.config;
        match (inner.phase, verdict) {
            (Phase::Closed { .. }, Verdict::Success) => {
                inner.phase = Phase::Closed { failures: 0 };
            }
            (Phase::Closed { failures }, Verdict::Failure) => {
                let failures = failures + 1;
                if failures >= config.failure_threshold {
                    inner.backoff = config.open_for;
                    inner.phase = Phase::Open {
                        until: now + inner.backoff,
                    };
                    inner.generation += 1;
                    tracing::warn!(breaker = %self.name, failures, open_for = ?inner.backoff,
                        "circuit breaker opened");
                } else {
                    inner.phase = Phase::Closed { failures };
                }
            }
            (Phase::HalfOpen, Verdict::Success) => {
                inner.backoff = config.open_for;
                inner.phase = Phase::Closed { failures: 0 };
                inner.generation += 1;
                tracing::info!(breaker = %self.name, "circuit breaker closed: probe succeeded");
            }
            (Phase::HalfOpen, Verdict::Failure) => {
                let doubled = inner.backoff.checked_mul(2).unwrap_or(Duration::MAX);
                inner.backoff = doubled.min(config.max_open_for);
                inner.phase = Phase::Open {
                    until: now + inner.backoff,
                };
                inner.generation += 1;
                tracing::warn!(breaker = %self.name, open_for = ?inner.backoff,
                    "circuit breaker reopened: probe failed");
            }
            (Phase::HalfOpen, Verdict::Release) => {
                // The probe told us nothing: hand it to the next caller, same backoff.
                inner.phase = Phase::Open { until: now };
                inner.generation += 1;
            }
            // No permit is issued while open, so nothing current can resolve there.
            (Phase::Closed { .. }, Verdict::Release) | (Phase::Open { .. }, _) => {}
        }
    }
}

/// Leave to make one attempt; report how it went. Dropping it unreported counts as a
/// failure (see the module docs).
#[derive(Debug)]
#[must_use = "report the outcome with record_success / record_failure / release"]
pub struct Permit {
    /// `None` once a verdict has been given, so `Drop` knows not to give another.
    shared: Option<Arc<Shared>>,
    generation: u64,
    probe: bool,
}

impl Permit {
    /// True for the single half-open probe whose outcome decides the breaker.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The gateway answered: accepted the message, or rejected it for a reason about the
    /// message itself. Closes a half-open breaker.
    pub fn record_success(mut self) {
        self.give(Verdict::Success);
    }

    /// Transient gateway failure. Counts toward opening; reopens a half-open breaker.
    pub fn record_failure(mut self) {
        self.give(Verdict::Failure);
    }

    /// No verdict: nothing was sent, or the outcome says nothing about the gateway.
    pub fn release(mut self) {
        self.give(Verdict::Release);
    }

    fn give(&mut self, verdict: Verdict) {
        if let Some(shared) = self.shared.take() {
            shared.resolve(self.generation, verdict);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.shared.is_some() {
            tracing::debug!(
                probe = self.probe,
                "breaker permit dropped unreported: failure"
            );
            self.give(Verdict::Failure);
        }
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
