//! [`Limits`] parsing and [`Guard`] admission order, under paused time.

use std::time::Duration;

use tokio::time::{Instant, timeout};

use super::*;

const S: Duration = Duration::from_secs(1);

fn guard(toml: &str) -> Arc<Guard> {
    let limits: Limits = toml::from_str(toml).unwrap();
    Arc::new(Guard::new("test", &limits, None).unwrap())
}

#[test]
fn limits_parse_with_humantime_durations() {
    let limits: Limits = toml::from_str(
        r#"
        rate_per_sec = 20
        burst = 5
        concurrency = 4
        [breaker]
        failure_threshold = 3
        open_for = "45s"
        max_open_for = "15m"
        "#,
    )
    .unwrap();
    let breaker = BreakerConfig {
        failure_threshold: 3,
        open_for: 45 * S,
        max_open_for: 15 * 60 * S,
    };
    let expected = Limits {
        rate_per_sec: Some(20.0),
        burst: Some(5),
        concurrency: Some(4),
        breaker,
    };
    assert_eq!(limits, expected);

    let partial: Limits = toml::from_str("breaker = { open_for = \"1m\" }").unwrap();
    assert_eq!(partial.rate_per_sec, None);
    assert_eq!(partial.breaker.open_for, 60 * S);
    assert_eq!(partial.breaker.failure_threshold, 5);
    assert_eq!(toml::from_str::<Limits>("").unwrap(), Limits::default());
}

#[test]
fn limits_reject_unknown_fields() {
    assert!(toml::from_str::<Limits>("rate = 3").is_err());
    assert!(toml::from_str::<Limits>("breaker = { threshold = 3 }").is_err());
    assert!(toml::from_str::<Limits>("breaker = { open_for = 30 }").is_err());
}

#[test]
fn guard_validates_limits() {
    let err = |toml: &str| Guard::new("x", &toml::from_str(toml).unwrap(), None).unwrap_err();
    assert_eq!(err("burst = 3"), ConfigError::BurstWithoutRate);
    assert_eq!(err("concurrency = 0"), ConfigError::ZeroConcurrency);
    assert_eq!(err("rate_per_sec = 0"), ConfigError::InvalidRate(0.0));
    assert_eq!(
        err("breaker = { failure_threshold = 0 }"),
        ConfigError::ZeroThreshold
    );
}

#[tokio::test(start_paused = true)]
async fn no_limits_admits_at_once() {
    let guard = guard("");
    let start = Instant::now();
    let held: Vec<_> = admit_many(&guard, 50).await;
    assert_eq!(held.len(), 50);
    assert_eq!(start.elapsed(), Duration::ZERO);
    held.into_iter().for_each(Admission::succeeded);
}

async fn admit_many(guard: &Guard, n: usize) -> Vec<Admission> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(guard.admit(1).await.unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn rate_tokens_pace_admissions() {
    let guard = guard("rate_per_sec = 10\nburst = 1");
    let start = Instant::now();
    for _ in 0..11 {
        guard.admit(1).await.unwrap().succeeded();
    }
    assert_eq!(start.elapsed(), S);
    guard.admit(5).await.unwrap().succeeded(); // five SMS parts: five tokens
    assert_eq!(start.elapsed(), S + S / 2);
}

#[tokio::test(start_paused = true)]
async fn open_breaker_fails_fast_without_waiting_for_tokens() {
    let guard = guard("rate_per_sec = 1\nburst = 1\nbreaker = { failure_threshold = 1 }");
    guard.admit(1).await.unwrap().failed(); // opens; the bucket is empty for 1 s
    let start = Instant::now();
    let err = guard.admit(1).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(err.retry_at, start + 30 * S);
    tokio::time::advance(30 * S).await;
    let probe = guard.admit(1).await.unwrap();
    assert!(probe.is_probe());
    probe.succeeded();
    assert_eq!(guard.breaker().state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn concurrency_slot_is_held_until_the_outcome() {
    let guard = guard("concurrency = 1\nbreaker = { failure_threshold = 1 }");
    let first = guard.admit(1).await.unwrap();
    // A second sender waits; giving up (timeout drops it) records nothing.
    assert!(timeout(10 * S, guard.admit(1)).await.is_err());
    assert_eq!(guard.breaker().state(), BreakerState::Closed);
    first.succeeded();
    let second = timeout(S, guard.admit(1)).await.unwrap().unwrap();
    second.release();
    assert_eq!(guard.breaker().state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn waiter_is_turned_away_if_the_breaker_opened_meanwhile() {
    let guard = guard("concurrency = 1\nbreaker = { failure_threshold = 1 }");
    let first = guard.admit(1).await.unwrap();
    let waiter = tokio::spawn({
        let guard = guard.clone();
        async move { guard.admit(1).await.map(Admission::release) }
    });
    tokio::task::yield_now().await; // the waiter holds a permit and queues for the slot
    first.failed(); // opens the breaker, then frees the slot
    assert!(waiter.await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn dropped_admission_counts_as_failure() {
    let guard = guard("breaker = { failure_threshold = 2 }");
    drop(guard.admit(1).await.unwrap());
    drop(guard.admit(1).await.unwrap());
    assert_eq!(guard.breaker().state(), BreakerState::Open);
}
