//! Several providers for one channel (e.g. two SMS aggregators), chosen per message.
//!
//! Selection is nginx's *smooth weighted round-robin* over effective weights: every pick
//! adds each provider's weight to its running score, takes the highest score and
//! subtracts the total from it. With steady weights the split is exact and evenly
//! interleaved (3:1 gives A A B A | A A B A …), so tests can assert exact counts.
//!
//! # Effective weight
//! `effective = weight × factor`, where
//! `factor = max(floor, (1 − error_rate)² × (1 − slow_share))`:
//! - `error_rate` is an EWMA (alpha [`PoolConfig::error_alpha`]) of failed sends. It is
//!   squared because errors cost twice (the failed attempt and its retry elsewhere), so
//!   a 30 % error rate already halves the provider's share;
//! - `slow_share` is an EWMA of delivery reports slower than
//!   [`PoolConfig::slow_threshold`]: a provider that delivers late loses share in
//!   proportion, but it still delivers, hence not squared;
//! - `floor` (default 0.05) keeps a degraded provider on a trickle of traffic, because
//!   only sends through it can show that it has recovered. Recovery then *drifts back*:
//!   each success pulls the EWMA down and the share grows over successive sends.
//!
//! Each provider also has a [`CircuitBreaker`]: while it is open the effective weight is
//! 0. When its open time is up, the next pick goes to it as the single probe (ahead of
//! the round-robin, so a recovering provider is never starved of its probe); it gets no
//! more traffic until the probe resolves. If no provider can take a message, `pick`
//! says when one can: [`PoolUnavailable::retry_at`].
//!
//! Outcomes are reported on the [`Pick`], which updates both the EWMA and the breaker.
//! As with breaker permits, a `Pick` dropped unreported counts as a failed send.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::ConfigError;
use super::breaker::{BreakerState, CircuitBreaker, Permit, Status};

/// Effective weights are integers (exact round-robin arithmetic) in thousandths.
const SCALE: f64 = 1000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct PoolConfig {
    /// Weight of each new send outcome in `error_rate`; 0.1 ≈ the last ~10 sends.
    pub error_alpha: f64,
    /// Weight of each new delivery report in `slow_share`.
    pub slow_alpha: f64,
    /// A delivery report later than this counts as slow.
    pub slow_threshold: Duration,
    /// Lowest health factor of a provider whose breaker is closed.
    pub floor: f64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            error_alpha: 0.1,
            slow_alpha: 0.1,
            slow_threshold: Duration::from_secs(300),
            floor: 0.05,
        }
    }
}

/// One provider as configured.
#[derive(Debug)]
pub struct Member<T> {
    pub provider: T,
    /// Share of traffic when healthy; 0 takes the provider out of rotation.
    pub weight: u32,
    /// Pass the gateway's [`super::Guard::breaker`] so both see one state.
    pub breaker: CircuitBreaker,
}

/// A snapshot for metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    pub error_rate: f64,
    pub slow_share: f64,
    pub factor: f64,
    /// `weight × factor`, or 0 while the breaker is not closed.
    pub effective_weight: f64,
    pub breaker: BreakerState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no provider in the pool can take a message")]
pub struct PoolUnavailable {
    /// Earliest instant at which some provider's breaker will admit a probe.
    pub retry_at: Instant,
}

#[derive(Debug, Default)]
struct Slot {
    current: i64,
    error_rate: f64,
    slow_share: f64,
}

#[derive(Debug)]
pub struct ProviderPool<T> {
    members: Vec<Member<T>>,
    config: PoolConfig,
    slots: Mutex<Vec<Slot>>,
}

impl<T> ProviderPool<T> {
    pub fn new(config: PoolConfig, members: Vec<Member<T>>) -> Result<Self, ConfigError> {
        let unit = |x: f64| x > 0.0 && x <= 1.0;
        if !unit(config.error_alpha) || !unit(config.slow_alpha) || !unit(config.floor) {
            return Err(ConfigError::PoolConfig);
        }
        if members.iter().all(|m| m.weight == 0) {
            return Err(ConfigError::NoWeight);
        }
        let slots = members.iter().map(|_| Slot::default()).collect();
        Ok(Self {
            members,
            config,
            slots: Mutex::new(slots),
        })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn provider(&self, idx: usize) -> Option<&T> {
        self.members.get(idx).map(|m| &m.provider)
    }

    /// Chooses the provider for the next message.
    pub fn pick(&self) -> Result<Pick<'_, T>, PoolUnavailable> {
        let now = Instant::now();
        let mut slots = self.lock();
        let mut retry_at: Option<Instant> = None;
        let mut eligible = Vec::with_capacity(self.members.len());
        for (idx, member) in self.members.iter().enumerate() {
            if member.weight == 0 {
                continue;
            }
            match member.breaker.status(now) {
                Status::Closed => eligible.push((idx, self.weight_of(member, &slots[idx]))),
                Status::ProbeDue => match member.breaker.check() {
                    Ok(permit) => return Ok(Pick::new(self, idx, permit)),
                    // Another holder of the shared breaker took the probe first.
                    Err(open) => earliest(&mut retry_at, open.retry_at),
                },
                Status::Unavailable { retry_at: at } => {
                    // Forget its score: on return it starts level, not with a burst.
                    slots[idx].current = 0;
                    earliest(&mut retry_at, at);
                }
            }
        }
        loop {
            let Some(total) = eligible.iter().map(|&(_, w)| w).reduce(|a, b| a + b) else {
                return Err(PoolUnavailable {
                    retry_at: retry_at.unwrap_or(now),
                });
            };
            // Highest score after adding weights; ties go to the lower index.
            let score = |&(i, w): &(usize, i64)| slots[i].current + w;
            let mut pos = 0;
            for (p, candidate) in eligible.iter().enumerate().skip(1) {
                if score(candidate) > score(&eligible[pos]) {
                    pos = p;
                }
            }
            let idx = eligible[pos].0;
            match self.members[idx].breaker.check() {
                Ok(permit) => {
                    for &(i, w) in &eligible {
                        slots[i].current += w;
                    }
                    slots[idx].current -= total;
                    return Ok(Pick::new(self, idx, permit));
                }
                // Opened since `status` by another holder of the shared breaker.
                Err(open) => {
                    earliest(&mut retry_at, open.retry_at);
                    eligible.remove(pos);
                }
            }
        }
    }

    /// Feeds one send outcome into the provider's error rate. [`Pick`] calls this; call
    /// it directly only for sends that did not go through `pick`.
    pub fn record_send(&self, idx: usize, ok: bool) {
        let alpha = self.config.error_alpha;
        if let Some(slot) = self.lock().get_mut(idx) {
            slot.error_rate += alpha * (f64::from(u8::from(!ok)) - slot.error_rate);
        }
    }

    /// Feeds the time from hand-over to delivery report into the provider's slow share.
    pub fn record_report_latency(&self, idx: usize, latency: Duration) {
        let slow = latency > self.config.slow_threshold;
        let alpha = self.config.slow_alpha;
        if let Some(slot) = self.lock().get_mut(idx) {
            slot.slow_share += alpha * (f64::from(u8::from(slow)) - slot.slow_share);
        }
    }

    pub fn health(&self, idx: usize) -> Option<Health> {
        let member = self.members.get(idx)?;
        let slots = self.lock();
        let slot = &slots[idx];
        let factor = self.factor(slot);
        let breaker = member.breaker.state();
        let closed = breaker == BreakerState::Closed;
        Some(Health {
            error_rate: slot.error_rate,
            slow_share: slot.slow_share,
            factor,
            effective_weight: if closed {
                f64::from(member.weight) * factor
            } else {
                0.0
            },
            breaker,
        })
    }

    fn factor(&self, slot: &Slot) -> f64 {
        let ok = 1.0 - slot.error_rate;
        (ok * ok * (1.0 - slot.slow_share)).max(self.config.floor)
    }

    fn weight_of(&self, member: &Member<T>, slot: &Slot) -> i64 {
        // At least 1 so a weighted provider never vanishes through rounding.
        ((f64::from(member.weight) * self.factor(slot) * SCALE).round() as i64).max(1)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        // Scores and EWMAs are plain numbers: any value left by a panic is still usable.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn earliest(acc: &mut Option<Instant>, at: Instant) {
    *acc = Some(acc.map_or(at, |r| r.min(at)));
}

/// The provider chosen for one message. Report the outcome on it.
#[derive(Debug)]
#[must_use = "report the outcome with succeeded / failed / release"]
pub struct Pick<'a, T> {
    pool: &'a ProviderPool<T>,
    index: usize,
    /// `None` once reported.
    permit: Option<Permit>,
}

impl<'a, T> Pick<'a, T> {
    fn new(pool: &'a ProviderPool<T>, index: usize, permit: Permit) -> Self {
        Self {
            pool,
            index,
            permit: Some(permit),
        }
    }

    pub fn index(&self) -> usize {
        self.index
    }

    pub fn provider(&self) -> &'a T {
        &self.pool.members[self.index].provider
    }

    /// True when this message is the provider's half-open probe.
    pub fn is_probe(&self) -> bool {
        self.permit.as_ref().is_some_and(Permit::is_probe)
    }

    /// Accepted, or rejected for a reason about the message itself.
    pub fn succeeded(mut self) {
        if let Some(permit) = self.permit.take() {
            self.pool.record_send(self.index, true);
            permit.record_success();
        }
    }

    /// Transient failure of the provider.
    pub fn failed(mut self) {
        if let Some(permit) = self.permit.take() {
            self.pool.record_send(self.index, false);
            permit.record_failure();
        }
    }

    /// Not sent, or the outcome says nothing about the provider.
    pub fn release(mut self) {
        if let Some(permit) = self.permit.take() {
            permit.release();
        }
    }
}

impl<T> Drop for Pick<'_, T> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.pool.record_send(self.index, false);
            permit.record_failure();
        }
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
