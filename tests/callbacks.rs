//! Status callbacks against a real receiving server that refuses the first attempts:
//! every status change arrives, signed, at least once, with one event id per change.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::fake_sms::{FakeProvider, Fault, Provider, Report};
use common::{Backend, example, spawn_app, spawn_app_with};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

both_backends! {
    every_status_change_is_posted_signed_and_retried_until_taken;
    a_callback_url_is_checked_at_intake;
    a_token_s_callback_url_serves_intents_that_name_none;
    a_refused_or_long_failing_callback_is_given_up;
}

const SECRET: &str = "callback-test-secret";

#[derive(Default)]
struct Received {
    /// Requests to answer 503 before taking any.
    refuse: usize,
    /// The answer after those.
    then: StatusCode,
    posts: Vec<(HeaderMap, Vec<u8>)>,
}

/// A receiver on loopback that answers 503 to its first `refuse` requests.
async fn receiver(refuse: usize) -> (String, Arc<Mutex<Received>>) {
    receiver_answering(refuse, StatusCode::NO_CONTENT).await
}

/// A receiver that answers 503 to its first `refuse` requests, then `then`.
async fn receiver_answering(refuse: usize, then: StatusCode) -> (String, Arc<Mutex<Received>>) {
    let state = Arc::new(Mutex::new(Received {
        refuse,
        then,
        posts: Vec::new(),
    }));
    async fn take(
        State(state): State<Arc<Mutex<Received>>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let mut state = state.lock().unwrap();
        state.posts.push((headers, body.to_vec()));
        if state.refuse > 0 {
            state.refuse -= 1;
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            state.then
        }
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(take))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (url, state)
}

/// Checks the signature as a receiver would, independently of Vestnik's code.
fn verify(headers: &HeaderMap, body: &[u8]) -> Value {
    let header = headers["x-vestnik-signature"].to_str().unwrap();
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "fresh timestamp: {age}s");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    assert_eq!(hex::encode(mac.finalize().into_bytes()), v1, "signature");
    let payload: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        headers["x-vestnik-event-id"],
        payload["event_id"].as_str().unwrap()
    );
    payload
}

/// One recipient of a meter visit: SMS (legal) first, email held behind it.
fn visit(external_id: &str, callback_url: &str) -> Value {
    let mut body = example("meter_visit");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    body["external_id"] = json!(external_id);
    body["callback_url"] = json!(callback_url);
    body
}

async fn every_status_change_is_posted_signed_and_retried_until_taken(backend: Backend) {
    let (url, received) = receiver(3).await;
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let wire = fake.wiring();
    let app = spawn_app_with(backend, move |s| {
        wire(s);
        s.dispatch.lease_secs = 2; // the sweeper (escalation) every half second
        s.callbacks.secret = SECRET.to_owned().into();
        s.callbacks.backoff_base = Duration::from_millis(50);
        s.callbacks.backoff_max = Duration::from_millis(200);
        s.callbacks.poll_every = Duration::from_millis(20);
    })
    .await;
    fake.auto_report(
        format!("{}/v1/receipts/generic-json", app.base),
        Report::Delivered,
    );

    // The first SMS is delivered; the second is refused for good, so the email escalates.
    let response = app.post_intent(&visit("cb-delivered", &url)).await;
    assert_eq!(response.status(), 202);
    let delivered: Value = response.json().await.unwrap();
    app.wait_for(delivered["id"].as_str().unwrap(), "delivered", |i| {
        i["status_counts"] == json!({"delivered": 1, "cancelled": 1})
    })
    .await;
    fake.fail_next(1, Fault::Permanent);
    let response = app.post_intent(&visit("cb-failed", &url)).await;
    assert_eq!(response.status(), 202);
    let failed: Value = response.json().await.unwrap();
    app.wait_for(
        failed["id"].as_str().unwrap(),
        "failed over to email",
        |i| i["status_counts"] == json!({"failed": 1, "sent": 1}),
    )
    .await;

    // sent + delivered, then failed + escalated + sent: five events.
    let expected = [
        ("cb-delivered", "sms", "sent"),
        ("cb-delivered", "sms", "delivered"),
        ("cb-failed", "sms", "failed"),
        ("cb-failed", "email", "escalated"),
        ("cb-failed", "email", "sent"),
    ];
    let started = Instant::now();
    let events = loop {
        let posts = received.lock().unwrap().posts.clone();
        let mut events: Vec<Value> = Vec::new();
        for (headers, body) in &posts {
            let payload = verify(headers, body);
            if !events.iter().any(|e| e["event_id"] == payload["event_id"]) {
                events.push(payload);
            }
        }
        if events.len() >= expected.len() || started.elapsed() > Duration::from_secs(30) {
            break (posts, events);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (posts, events) = events;
    let mut seen: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["external_id"].as_str().unwrap().to_owned(),
                e["channel"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut want: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    want.sort();
    assert_eq!(seen, want, "one event per status change");
    // Meter-visit notices wait for their delivery reports: none is final when sent.
    assert!(
        events.iter().all(|e| e["received_when_sent"] == false),
        "{events:?}"
    );
    // The three refusals were retried: more posts than events, the same event ids again.
    assert_eq!(
        posts.len(),
        expected.len() + 3,
        "each refused post was retried once taken"
    );
    let retried: Vec<Value> = posts
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap())
        .filter(|p| p["attempt"].as_i64().unwrap() > 1)
        .collect();
    assert_eq!(
        retried.len(),
        3,
        "each refused post came again as a later attempt"
    );
    for again in &retried {
        assert!(events.iter().any(|e| e["event_id"] == again["event_id"]));
    }

    let sms_delivered = events
        .iter()
        .find(|e| e["external_id"] == "cb-delivered" && e["status"] == "delivered")
        .unwrap();
    assert_eq!(sms_delivered["intent_id"], delivered["id"]);
    assert_eq!(sms_delivered["recipient"]["recipient_id"], 0);
    assert!(sms_delivered["recipient"]["account_number"].is_string());
    assert_eq!(sms_delivered["gateway"], "sms:generic-json");
    assert_eq!(
        sms_delivered["gateway_message_id"],
        fake.received()[0].provider_id.as_str()
    );
    for field in ["occurred_at", "sent_at", "delivered_at"] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(sms_delivered[field].as_str().unwrap()).is_ok(),
            "{field}: {sms_delivered}"
        );
    }
    let refused = events.iter().find(|e| e["status"] == "failed").unwrap();
    assert!(refused["reason"].is_string(), "{refused}");

    // Nothing further arrives once all are taken: each event was acknowledged once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(received.lock().unwrap().posts.len(), posts.len());
    app.stop().await;
}

async fn a_callback_url_is_checked_at_intake(backend: Backend) {
    // No secret configured: callbacks cannot be signed, so none are accepted.
    let app = spawn_app(backend).await;
    let response = app
        .post_intent(&visit("cb-unsigned", "https://billing.example.ru/hook"))
        .await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "callback_url", "{problem}");
    app.stop().await;

    let app = spawn_app_with(backend, |s| s.callbacks.secret = SECRET.to_owned().into()).await;
    for bad in [
        "ftp://billing.example.ru/hook",
        "billing.example.ru/hook",
        "https://u:p@x.ru/",
    ] {
        let problem = app.refuse(&visit("cb-bad", bad)).await;
        assert_eq!(
            problem["errors"][0]["field"], "callback_url",
            "{bad}: {problem}"
        );
    }
    let mut mistyped = visit("cb-mistyped", "");
    mistyped["callback_url"] = json!(42);
    let problem = app.refuse(&mistyped).await;
    assert_eq!(problem["errors"][0]["field"], "callback_url", "{problem}");
    app.stop().await;
}

async fn a_token_s_callback_url_serves_intents_that_name_none(backend: Backend) {
    let (token_url, token_received) = receiver(0).await;
    let (own_url, own_received) = receiver(0).await;
    let app = spawn_app_with(backend, |s| {
        s.callbacks.secret = SECRET.to_owned().into();
        s.callbacks.poll_every = Duration::from_millis(20);
    })
    .await;
    let url = vestnik::callbacks::CallbackUrl::parse(&token_url).unwrap();
    let token = vestnik::auth::create_token_calling_back(
        &app.db,
        "outage-planner",
        vestnik::auth::Role::Ingest,
        Some(&url),
    )
    .await
    .unwrap();
    let post = |body: Value| {
        app.http
            .post(format!("{}/v1/intents", app.base))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    // Through the outbox: the SMS is `sent`, the held email never moves.
    let mut by_token = visit("cb-token", "");
    by_token.as_object_mut().unwrap().remove("callback_url");
    assert_eq!(post(by_token).await.unwrap().status(), 202);
    assert_eq!(post(visit("cb-own", &own_url)).await.unwrap().status(), 202);

    let started = Instant::now();
    while (token_received.lock().unwrap().posts.is_empty()
        || own_received.lock().unwrap().posts.is_empty())
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (received, external_id) in [(&token_received, "cb-token"), (&own_received, "cb-own")] {
        let posts = received.lock().unwrap().posts.clone();
        assert_eq!(posts.len(), 1, "{external_id}");
        let payload = verify(&posts[0].0, &posts[0].1);
        assert_eq!(payload["external_id"], external_id);
        assert_eq!(payload["status"], "sent");
        assert_eq!(payload["channel"], "sms");
    }
    app.stop().await;
}

async fn a_refused_or_long_failing_callback_is_given_up(backend: Backend) {
    // One receiver refuses outright (400: not retried), one is down for longer than
    // retry_for (503 every time: retried, then given up).
    let (refusing, refused) = receiver_answering(0, StatusCode::BAD_REQUEST).await;
    let (down, failing) = receiver_answering(usize::MAX, StatusCode::NO_CONTENT).await;
    let app = spawn_app_with(backend, |s| {
        s.callbacks.secret = SECRET.to_owned().into();
        s.callbacks.poll_every = Duration::from_millis(20);
        s.callbacks.backoff_base = Duration::from_millis(50);
        s.callbacks.backoff_max = Duration::from_millis(100);
        s.callbacks.retry_for = Duration::from_millis(1500);
    })
    .await;
    assert_eq!(
        app.post_intent(&visit("cb-refused", &refusing))
            .await
            .status(),
        202
    );
    assert_eq!(
        app.post_intent(&visit("cb-down", &down)).await.status(),
        202
    );

    // Both events end given up: the refused one at once, the other after retry_for.
    let scrape = || app.metrics();
    let count = |metrics: &str, result: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("vestnik_callbacks_total{{result=\"{result}\"}}")))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, n)| n.parse::<f64>().unwrap())
            .unwrap_or(0.0)
    };
    let started = Instant::now();
    let mut metrics = scrape().await;
    while count(&metrics, "gave_up") < 2.0 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = scrape().await;
    }
    let refused_posts = refused.lock().unwrap().posts.len();
    let failing_posts = failing.lock().unwrap().posts.len();
    assert_eq!(refused_posts, 1, "a 4xx is final");
    assert!(
        failing_posts >= 3,
        "a 503 is retried: {failing_posts} posts"
    );
    // Given up: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(refused.lock().unwrap().posts.len(), refused_posts);
    assert_eq!(failing.lock().unwrap().posts.len(), failing_posts);
    let metrics = scrape().await;
    assert_eq!(count(&metrics, "gave_up"), 2.0, "{metrics}");
    assert_eq!(count(&metrics, "retry") as usize, failing_posts - 1);
    assert_eq!(count(&metrics, "delivered"), 0.0);
    app.stop().await;
}
