//! Every transition of [`CircuitBreaker`], under paused time.

use super::*;

const S: Duration = Duration::from_secs(1);

fn breaker(threshold: u32) -> CircuitBreaker {
    let config = BreakerConfig {
        failure_threshold: threshold,
        open_for: 30 * S,
        max_open_for: 100 * S,
    };
    CircuitBreaker::new("test", config).unwrap()
}

fn fail(b: &CircuitBreaker, times: u32) {
    for _ in 0..times {
        b.check().unwrap().record_failure();
    }
}

/// Opens `b` (threshold 3) and waits out the open time so the probe is due.
async fn open_and_wait(b: &CircuitBreaker) {
    fail(b, 3);
    tokio::time::advance(30 * S).await;
}

#[test]
fn config_validation() {
    assert!(BreakerConfig::default().validate().is_ok());
    let bad = |f: fn(&mut BreakerConfig)| {
        let mut c = BreakerConfig::default();
        f(&mut c);
        c.validate().unwrap_err()
    };
    assert_eq!(bad(|c| c.failure_threshold = 0), ConfigError::ZeroThreshold);
    assert_eq!(
        bad(|c| c.open_for = Duration::ZERO),
        ConfigError::ZeroOpenFor
    );
    assert_eq!(bad(|c| c.max_open_for = S), ConfigError::MaxOpenForTooShort);
}

#[test]
fn state_names() {
    assert_eq!(BreakerState::Closed.as_str(), "closed");
    assert_eq!(BreakerState::Open.as_str(), "open");
    assert_eq!(BreakerState::HalfOpen.as_str(), "half_open");
}

#[tokio::test(start_paused = true)]
async fn opens_after_threshold_consecutive_failures() {
    let b = breaker(3);
    fail(&b, 2);
    b.check().unwrap().record_success(); // resets the count
    fail(&b, 2);
    assert_eq!(b.state(), BreakerState::Closed);
    let opened_at = Instant::now();
    fail(&b, 1);
    assert_eq!(b.state(), BreakerState::Open);
    let err = b.check().unwrap_err();
    assert_eq!(err.retry_at, opened_at + 30 * S);
}

#[tokio::test(start_paused = true)]
async fn release_in_closed_state_does_not_count() {
    let b = breaker(2);
    b.check().unwrap().record_failure();
    b.check().unwrap().release();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn open_rejects_until_time_is_up_then_one_probe() {
    let b = breaker(3);
    fail(&b, 3);
    tokio::time::advance(29 * S).await;
    assert!(b.check().is_err());
    tokio::time::advance(S).await;
    let probe = b.check().unwrap();
    assert!(probe.is_probe());
    assert_eq!(b.state(), BreakerState::HalfOpen);
    // Everyone else is turned away while the probe is out.
    for _ in 0..5 {
        let err = b.check().unwrap_err();
        assert_eq!(err.retry_at, Instant::now() + HALF_OPEN_RETRY);
    }
    probe.record_success();
}

#[tokio::test(start_paused = true)]
async fn probe_success_closes_and_resets_backoff() {
    let b = breaker(3);
    open_and_wait(&b).await;
    b.check().unwrap().record_failure(); // backoff now 60 s
    tokio::time::advance(60 * S).await;
    b.check().unwrap().record_success();
    assert_eq!(b.state(), BreakerState::Closed);
    let permit = b.check().unwrap();
    assert!(!permit.is_probe());
    permit.record_success();
    // Reopening starts again from open_for, not from the doubled time.
    let opened_at = Instant::now();
    fail(&b, 3);
    assert_eq!(b.check().unwrap_err().retry_at, opened_at + 30 * S);
}

#[tokio::test(start_paused = true)]
async fn failed_probe_doubles_open_time_up_to_the_cap() {
    let b = breaker(3);
    open_and_wait(&b).await;
    for expected in [60, 100, 100] {
        let failed_at = Instant::now();
        b.check().unwrap().record_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.check().unwrap_err().retry_at, failed_at + expected * S);
        tokio::time::advance(expected * S).await;
    }
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_counts_as_failure() {
    let b = breaker(3);
    open_and_wait(&b).await;
    let dropped_at = Instant::now();
    drop(b.check().unwrap());
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.check().unwrap_err().retry_at, dropped_at + 60 * S);
}

#[tokio::test(start_paused = true)]
async fn dropped_normal_permit_counts_as_failure() {
    let b = breaker(2);
    drop(b.check().unwrap());
    drop(b.check().unwrap());
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn released_probe_goes_to_the_next_caller_without_doubling() {
    let b = breaker(3);
    open_and_wait(&b).await;
    b.check().unwrap().release();
    assert_eq!(b.state(), BreakerState::Open);
    let probe = b.check().unwrap();
    assert!(probe.is_probe());
    let failed_at = Instant::now();
    probe.record_failure();
    // 30 s doubled once (by this failure), not twice.
    assert_eq!(b.check().unwrap_err().retry_at, failed_at + 60 * S);
}

#[tokio::test(start_paused = true)]
async fn verdicts_from_before_a_state_change_are_ignored() {
    let b = breaker(3);
    let mut in_flight: Vec<_> = (0..4).map(|_| b.check().unwrap()).collect();
    let during_probe = in_flight.pop().unwrap();
    let opened_at = Instant::now();
    fail(&b, 3);
    tokio::time::advance(10 * S).await;
    // Late failures do not push the open time out.
    for permit in in_flight {
        permit.record_failure();
    }
    assert_eq!(b.check().unwrap_err().retry_at, opened_at + 30 * S);

    tokio::time::advance(20 * S).await;
    let probe = b.check().unwrap();
    // A success from the closed period does not close the breaker: only the probe decides.
    assert!(!b.is_current(&during_probe));
    during_probe.record_success();
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(b.is_current(&probe));
    probe.record_failure();
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn clones_share_state() {
    let b = breaker(3);
    let c = b.clone();
    fail(&c, 3);
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.status(Instant::now() + 30 * S), Status::ProbeDue);
}
