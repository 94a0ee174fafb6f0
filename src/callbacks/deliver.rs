//! The task that posts status callbacks, one per worker process.

use std::time::Duration;

use futures::StreamExt;
use rand::Rng;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tracing::{Instrument, error, info_span, warn};

use super::{Payload, signature};
use crate::metrics::Metrics;
use crate::settings::Callbacks;
use crate::storage::{CallbackEvent, Db, now_ms};

/// Events claimed per round.
const BATCH: i64 = 100;

/// What one POST came to.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Taken,
    /// Connection error, timeout, 5xx, 429: try again later.
    Transient(String),
    /// Any other answer: the receiver does not want it; trying again will not help.
    Refused(String),
}

/// Posts due events until `stop` turns true.
pub async fn run(db: Db, settings: Callbacks, metrics: Metrics, mut stop: watch::Receiver<bool>) {
    crate::channels::install_crypto_provider();
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            error!(error = %e, "status callbacks: no HTTP client; none will be posted");
            return;
        }
    };
    // A lease long enough for a whole round of posts at their timeout.
    let lease_ms =
        (settings.timeout.as_millis() as i64) * (BATCH / settings.concurrency.max(1) as i64 + 2);
    loop {
        let posted = match db.claim_callbacks(now_ms(), lease_ms, BATCH).await {
            Ok(events) => {
                let n = events.len();
                futures::stream::iter(events)
                    .for_each_concurrent(settings.concurrency.max(1), |event| {
                        post_one(&db, &client, &settings, &metrics, event)
                    })
                    .await;
                n
            }
            Err(e) => {
                error!(
                    error = format!("{e:#}"),
                    "status callbacks: claiming events failed"
                );
                0
            }
        };
        // A full batch means more are waiting: go on at once.
        if posted as i64 == BATCH {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.poll_every) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn post_one(
    db: &Db,
    client: &reqwest::Client,
    settings: &Callbacks,
    metrics: &Metrics,
    event: CallbackEvent,
) {
    let span = info_span!("callback", event_id = %event.id, intent_id = %event.intent_id,
        message_id = %event.message_id, status = %event.status, attempt = event.attempts);
    async {
        let answer = post(client, settings, &event).await;
        let now = now_ms();
        let result = match &answer {
            Answer::Taken => {
                metrics.callback("delivered");
                db.callback_acknowledged(&event.id, now).await
            }
            Answer::Transient(why)
                if now - event.created_at < settings.retry_for.as_millis() as i64 =>
            {
                metrics.callback("retry");
                let at = now + backoff(settings, event.attempts).as_millis() as i64;
                warn!(error = %why, "status callback not taken; will retry");
                db.callback_retry(&event.id, at, why).await
            }
            Answer::Transient(why) | Answer::Refused(why) => {
                metrics.callback("gave_up");
                warn!(error = %why, "status callback given up");
                db.callback_gave_up(&event.id, now, why).await
            }
        };
        if let Err(e) = result {
            // The lease runs out and the event is posted again: at-least-once.
            error!(
                error = format!("{e:#}"),
                "status callback outcome not recorded"
            );
        }
    }
    .instrument(span)
    .await
}

async fn post(client: &reqwest::Client, settings: &Callbacks, event: &CallbackEvent) -> Answer {
    let body = match serde_json::to_vec(&Payload::from(event)) {
        Ok(body) => body,
        Err(e) => return Answer::Refused(format!("payload not serialisable: {e}")),
    };
    let now = chrono::Utc::now().timestamp();
    let signed = signature::sign(settings.secret.expose_secret().as_bytes(), now, &body);
    let response = client
        .post(&event.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signature::HEADER, signed)
        .header("x-vestnik-event-id", &event.id)
        .body(body)
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Answer::Taken,
        Ok(r) if r.status().is_server_error() || r.status() == StatusCode::TOO_MANY_REQUESTS => {
            Answer::Transient(format!("the receiver answered {}", r.status()))
        }
        Ok(r) => Answer::Refused(format!("the receiver answered {}", r.status())),
        Err(e) => Answer::Transient(cause_chain(&e)),
    }
}

/// The error and its causes ("connection refused" is in a source, not in the top error).
fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut why = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        why.push_str(": ");
        why.push_str(&cause.to_string());
        source = cause.source();
    }
    why
}

/// `backoff_base · 2^(attempt-1)` capped at `backoff_max`, then a random point in its
/// upper half: spreads the retries of many events that failed together.
fn backoff(settings: &Callbacks, attempts: i64) -> Duration {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let ceiling = settings
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(settings.backoff_max);
    let half = ceiling / 2;
    half + ceiling.mul_f64(rand::rng().random::<f64>() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Callbacks {
        crate::settings::Settings::defaults().callbacks
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let s = settings();
        for (attempt, ceiling) in [(1, 1), (2, 2), (3, 4), (10, 512), (11, 600), (30, 600)] {
            let d = backoff(&s, attempt);
            let ceiling = Duration::from_secs(ceiling);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        }
    }
}
