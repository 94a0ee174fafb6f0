//! Which gateway carries a channel's messages, within each gateway's limits.
//!
//! A channel has one or more gateways (two SMS providers, say) in a [`ProviderPool`]:
//! each message is given to a gateway picked by weight and health, sent within that
//! gateway's concurrency and rate limits, and its outcome feeds the gateway's circuit
//! breaker. While every gateway of the channel is open, messages are not sent but
//! deferred to when the next probe is due; that is not an attempt.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::resilience::{BreakerState, Guard, Limits, Member, PoolConfig, ProviderPool};
use super::{Gateway, Outgoing, SendResult};
use crate::settings::Organization;
use crate::storage::Db;

/// One gateway with its limits.
#[derive(Debug)]
pub struct Route {
    pub gateway: Gateway,
    guard: Guard,
}

impl Route {
    /// With `db`, the gateway's rate limit holds across all worker processes.
    pub fn new(gateway: Gateway, limits: &Limits, db: Option<&Db>) -> anyhow::Result<Self> {
        let guard = Guard::new(gateway.name(), limits, db)
            .map_err(|e| anyhow::anyhow!("limits of gateway {}: {e}", gateway.name()))?;
        Ok(Self { gateway, guard })
    }
}

/// What happened to one message: the gateway that had it (none when none could) and
/// what it said.
#[derive(Debug)]
pub struct Sent {
    pub gateway: Option<String>,
    pub result: SendResult,
    /// From handing the message to the gateway to its answer (for a batch, the batch's).
    pub elapsed: Duration,
}

/// The gateways of one channel; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChannelRoute {
    pool: Arc<ProviderPool<Route>>,
    slow_threshold: Duration,
}

impl ChannelRoute {
    /// One gateway, alone.
    pub fn single(route: Route) -> anyhow::Result<Self> {
        Self::weighted(PoolConfig::default(), vec![(route, 1)])
    }

    /// Several gateways sharing the traffic by weight.
    pub fn weighted(config: PoolConfig, routes: Vec<(Route, u32)>) -> anyhow::Result<Self> {
        let slow_threshold = config.slow_threshold;
        let members = routes
            .into_iter()
            .map(|(route, weight)| Member {
                breaker: route.guard.breaker().clone(),
                provider: route,
                weight,
            })
            .collect();
        let pool =
            ProviderPool::new(config, members).map_err(|e| anyhow::anyhow!("gateway pool: {e}"))?;
        Ok(Self {
            pool: Arc::new(pool),
            slow_threshold,
        })
    }

    /// Each gateway's circuit breaker, for the metrics.
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        (0..self.pool.len())
            .filter_map(|i| self.pool.provider(i))
            .map(|r| (r.gateway.name().to_owned(), r.guard.breaker().state()))
            .collect()
    }

    pub fn gateways(&self) -> impl Iterator<Item = (usize, &Gateway)> {
        (0..self.pool.len()).filter_map(|i| self.pool.provider(i).map(|r| (i, &r.gateway)))
    }

    /// A delivery report later than this counts against its gateway.
    pub fn slow_threshold(&self) -> Duration {
        self.slow_threshold
    }

    /// Counts a stretch's prompt and late delivery reports for (or against) `gateway`,
    /// interleaved so neither kind dominates the moving average by coming last.
    pub fn record_reports(&self, gateway: &str, prompt: u64, late: u64) {
        let Some((idx, _)) = self.gateways().find(|(_, g)| g.name() == gateway) else {
            return;
        };
        let total = prompt + late;
        // The average forgets old samples fast; a hundred say all there is to say.
        let samples = total.min(100);
        let mut owed = 0u64;
        for _ in 0..samples {
            owed += late;
            let latency = if owed >= total {
                owed -= total;
                self.slow_threshold * 2
            } else {
                Duration::ZERO
            };
            self.pool.record_report_latency(idx, latency);
        }
    }

    /// Sends a batch; results come back in the batch's order.
    pub async fn send(&self, batch: Vec<Outgoing>, sender: &Organization) -> Vec<Sent> {
        // The outbox is local and fast, and batching lets it sync once per batch.
        if let (1, Some(route)) = (self.pool.len(), self.pool.provider(0))
            && matches!(route.gateway, Gateway::Outbox(_))
        {
            let name = route.gateway.name().to_owned();
            let started = std::time::Instant::now();
            let results = route.gateway.send(batch, sender).await;
            let elapsed = started.elapsed();
            return results
                .into_iter()
                .map(|result| Sent {
                    gateway: Some(name.clone()),
                    result,
                    elapsed,
                })
                .collect();
        }
        // Gateways that take several messages per request get them in groups; the
        // smallest group size of the channel's gateways fits whichever one is picked, and
        // a group never outgrows what the gateway's rate limit allows at once.
        let group = (0..self.pool.len())
            .filter_map(|i| self.pool.provider(i))
            .map(|r| r.gateway.batch_size().min(r.guard.largest_request()))
            .min()
            .unwrap_or(1)
            .max(1);
        // A provider that answers a batch by number must not get one number twice in a
        // request, whichever of the channel's gateways is picked.
        let key = |o: &Outgoing| {
            (0..self.pool.len())
                .filter_map(|i| self.pool.provider(i))
                .find_map(|r| r.gateway.batch_key(o))
        };
        let groups = super::in_distinct_groups(batch, group, key);
        let mut results: Vec<(usize, Sent)> = futures::stream::iter(groups)
            .map(|group| async move {
                let (at, messages): (Vec<usize>, Vec<Outgoing>) = group.into_iter().unzip();
                let sent = self.send_group(messages, sender).await;
                at.into_iter().zip(sent).collect::<Vec<_>>()
            })
            // Each gateway's own semaphore bounds its requests; this only bounds the
            // futures alive at once.
            .buffer_unordered(256)
            .flat_map(futures::stream::iter)
            .collect()
            .await;
        results.sort_unstable_by_key(|(at, _)| *at);
        results.into_iter().map(|(_, sent)| sent).collect()
    }

    /// Sends `messages` in one request to one gateway (one message, or a batch for a
    /// gateway that takes them): one pick, one concurrency slot, a rate token per message.
    async fn send_group(&self, messages: Vec<Outgoing>, sender: &Organization) -> Vec<Sent> {
        let n = u32::try_from(messages.len()).unwrap_or(u32::MAX);
        let (pick, _slot) = loop {
            let pick = match self.pool.pick() {
                Ok(pick) => pick,
                Err(unavailable) => {
                    let wait = unavailable
                        .retry_at
                        .saturating_duration_since(tokio::time::Instant::now());
                    return messages
                        .iter()
                        .map(|_| Sent {
                            gateway: None,
                            elapsed: Duration::ZERO,
                            result: SendResult::Unavailable {
                                retry_in: wait,
                                why: "every gateway of the channel is failing (circuit open)"
                                    .into(),
                            },
                        })
                        .collect();
                }
            };
            let slot = pick.provider().guard.throttle(n).await;
            // The breaker may have opened while we queued for a slot: pick again rather
            // than add to the pile on a gateway just found dead. This bounds the requests
            // a dead gateway gets to failure_threshold + concurrency − 1.
            if pick.is_probe() || pick.provider().guard.breaker().state() == BreakerState::Closed {
                break (pick, slot);
            }
            pick.release();
        };
        let route = pick.provider();
        let started = std::time::Instant::now();
        let count = messages.len();
        let mut results = route.gateway.send(messages, sender).await;
        results.resize_with(count, || {
            SendResult::Transient("the gateway returned no result".into())
        });
        // The gateway answered, whether it took the messages or refused some: it is up.
        // Only a request that failed for all of them counts against it.
        if results
            .iter()
            .all(|r| matches!(r, SendResult::Transient(_)))
        {
            pick.failed();
        } else {
            pick.succeeded();
        }
        let elapsed = started.elapsed();
        let name = route.gateway.name().to_owned();
        results
            .into_iter()
            .map(|result| Sent {
                gateway: Some(name.clone()),
                result,
                elapsed,
            })
            .collect()
    }
}
