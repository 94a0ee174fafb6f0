//! [`ProviderPool`] selection and health, under paused time. Provider 0 is "A", 1 is "B".

use super::*;
use crate::channels::resilience::{BreakerConfig, HALF_OPEN_RETRY};

const S: Duration = Duration::from_secs(1);

fn pool_with(weights: &[u32], breaker: BreakerConfig) -> ProviderPool<&'static str> {
    let names = ["A", "B", "C"];
    let members = weights
        .iter()
        .zip(names)
        .map(|(&weight, name)| Member {
            provider: name,
            weight,
            breaker: CircuitBreaker::new(name, breaker.clone()).unwrap(),
        })
        .collect();
    ProviderPool::new(PoolConfig::default(), members).unwrap()
}

fn pool(weights: &[u32]) -> ProviderPool<&'static str> {
    pool_with(weights, BreakerConfig::default())
}

/// A breaker that never opens, to watch the EWMA alone.
fn never_opens() -> BreakerConfig {
    BreakerConfig {
        failure_threshold: u32::MAX,
        ..BreakerConfig::default()
    }
}

/// Makes `n` picks, A failing iff `a_fails`, B always succeeding; returns picks of A.
fn run(pool: &ProviderPool<&str>, n: usize, a_fails: bool) -> usize {
    let mut a = 0;
    for _ in 0..n {
        let pick = pool.pick().unwrap();
        if pick.index() == 0 {
            a += 1;
            if a_fails {
                pick.failed();
                continue;
            }
        }
        pick.succeeded();
    }
    a
}

#[test]
fn config_validation() {
    let members = |w: u32| {
        let breaker = CircuitBreaker::new("x", BreakerConfig::default()).unwrap();
        vec![Member {
            provider: (),
            weight: w,
            breaker,
        }]
    };
    let err = ProviderPool::new(PoolConfig::default(), members(0)).unwrap_err();
    assert_eq!(err, ConfigError::NoWeight);
    let config = PoolConfig {
        floor: 0.0,
        ..PoolConfig::default()
    };
    assert_eq!(
        ProviderPool::new(config, members(1)).unwrap_err(),
        ConfigError::PoolConfig
    );
}

#[tokio::test(start_paused = true)]
async fn healthy_split_is_exact_and_interleaved() {
    let pool = pool(&[3, 1]);
    let first: Vec<_> = (0..8)
        .map(|_| {
            let pick = pool.pick().unwrap();
            let name = *pick.provider();
            pick.succeeded();
            name
        })
        .collect();
    assert_eq!(first, ["A", "A", "B", "A", "A", "A", "B", "A"]);
    assert_eq!(run(&pool, 400, false), 300);
}

#[tokio::test(start_paused = true)]
async fn zero_weight_provider_is_never_picked() {
    let pool = pool(&[1, 0]);
    assert_eq!(run(&pool, 50, false), 50);
}

#[tokio::test(start_paused = true)]
async fn erroring_provider_falls_to_the_floor_trickle() {
    let pool = pool_with(&[3, 1], never_opens());
    run(&pool, 200, true);
    let a = pool.health(0).unwrap();
    assert!(a.error_rate > 0.95, "{a:?}");
    assert_eq!(a.factor, 0.05);
    // A: 3 × 0.05 = 0.15 against B's 1: 0.15 / 1.15 ≈ 13 %, i.e. 60 of 460.
    let a_picks = run(&pool, 460, true);
    assert!((58..=62).contains(&a_picks), "A got {a_picks} of 460");
}

#[tokio::test(start_paused = true)]
async fn erroring_provider_behind_a_breaker_gets_only_probes() {
    let pool = pool(&[3, 1]); // opens after 5 failures for 30 s, doubling per failed probe
    let (mut a, mut probes) = (0, 0);
    for _ in 0..3000 {
        // 10 messages a second for 300 s.
        let pick = pool.pick().unwrap();
        if pick.index() == 0 {
            a += 1;
            probes += usize::from(pick.is_probe());
            pick.failed();
        } else {
            pick.succeeded();
        }
        tokio::time::advance(S / 10).await;
    }
    // 5 failures open it; probes at +30 s, +60 s, +120 s after each reopening: t ≈ 30,
    // 90, 210 (the next would be at 450).
    assert_eq!((a, probes), (8, 3));
    assert_eq!(pool.health(0).unwrap().breaker, BreakerState::Open);
    assert_eq!(pool.health(0).unwrap().effective_weight, 0.0);
}

#[tokio::test(start_paused = true)]
async fn probe_is_exclusive_while_out() {
    let pool = pool(&[3, 1]);
    run(&pool, 7, true); // A has had its 5 failures
    tokio::time::advance(30 * S).await;
    let probe = pool.pick().unwrap();
    assert!(probe.is_probe() && probe.index() == 0);
    assert_eq!(
        run(&pool, 20, false),
        0,
        "B takes everything while the probe is out"
    );
    probe.succeeded();
    assert_eq!(pool.health(0).unwrap().breaker, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn recovered_provider_drifts_back_to_its_share() {
    // Long degraded (error rate ≈ 1, on the floor trickle), then healthy again.
    let pool = pool_with(&[3, 1], never_opens());
    run(&pool, 300, true);
    let shares: Vec<usize> = (0..15).map(|_| run(&pool, 20, false)).collect();
    assert!(shares[0] <= 4, "first window {shares:?}");
    for pair in shares.windows(2) {
        assert!(pair[1] + 1 >= pair[0], "share fell: {shares:?}");
    }
    // Gradual: it takes several windows, passing through the middle ground.
    assert!(shares.iter().any(|s| (7..=12).contains(s)), "{shares:?}");
    assert_eq!(shares[14], 15, "last window {shares:?}");
    let a_picks = run(&pool, 400, false);
    assert!((299..=301).contains(&a_picks), "A got {a_picks} of 400");
}

#[tokio::test(start_paused = true)]
async fn provider_back_from_an_open_breaker_still_earns_its_share() {
    let pool = pool(&[3, 1]);
    run(&pool, 7, true); // 5 failures: open
    tokio::time::advance(30 * S).await;
    pool.pick().unwrap().succeeded(); // the probe: closed, but the EWMA remembers
    let health = pool.health(0).unwrap();
    assert!(health.factor < 0.5, "{health:?}");
    let shares: Vec<usize> = (0..6).map(|_| run(&pool, 8, false)).collect();
    assert!(shares[0] < 6 && shares[5] == 6, "{shares:?}");
}

#[tokio::test(start_paused = true)]
async fn slow_delivery_reports_shift_weight() {
    let pool = pool(&[3, 1]);
    for _ in 0..50 {
        pool.record_report_latency(0, 20 * 60 * S);
        pool.record_report_latency(1, 30 * S);
    }
    assert!(pool.health(0).unwrap().slow_share > 0.99);
    assert_eq!(pool.health(1).unwrap().slow_share, 0.0);
    let a_picks = run(&pool, 460, false);
    assert!((58..=62).contains(&a_picks), "A got {a_picks} of 460");
    // Half the reports slow: factor 0.5, A 1.5 : B 1, i.e. 60 %.
    let pool = pool_with(&[3, 1], BreakerConfig::default());
    for i in 0..200 {
        pool.record_report_latency(0, if i % 2 == 0 { 600 * S } else { S });
    }
    let a_picks = run(&pool, 500, false);
    assert!((285..=315).contains(&a_picks), "A got {a_picks} of 500");
}

#[tokio::test(start_paused = true)]
async fn all_open_reports_the_earliest_retry() {
    let quick = BreakerConfig {
        failure_threshold: 1,
        ..BreakerConfig::default()
    };
    let pool = pool_with(&[1, 1], quick);
    let a_opened = Instant::now();
    pool.pick().unwrap().failed(); // A
    tokio::time::advance(5 * S).await;
    pool.pick().unwrap().failed(); // B
    let err = pool.pick().unwrap_err();
    assert_eq!(err.retry_at, a_opened + 30 * S);
    tokio::time::advance(25 * S).await;
    let probe = pool.pick().unwrap();
    assert!(probe.is_probe() && probe.index() == 0);
    // A's probe out, B still open: retry when the probe is expected to be done.
    assert_eq!(
        pool.pick().unwrap_err().retry_at,
        Instant::now() + HALF_OPEN_RETRY
    );
    probe.succeeded();
    assert_eq!(pool.pick().unwrap().index(), 0);
}

#[tokio::test(start_paused = true)]
async fn single_provider() {
    let pool = pool(&[1]);
    assert_eq!(run(&pool, 10, false), 10);
    for _ in 0..5 {
        pool.pick().unwrap().failed();
    }
    assert!(pool.pick().is_err());
}

#[tokio::test(start_paused = true)]
async fn dropped_pick_counts_as_failure() {
    let pool = pool_with(&[1], never_opens());
    drop(pool.pick().unwrap());
    assert!((pool.health(0).unwrap().error_rate - 0.1).abs() < 1e-9);
    pool.pick().unwrap().release();
    assert!((pool.health(0).unwrap().error_rate - 0.1).abs() < 1e-9);
}
