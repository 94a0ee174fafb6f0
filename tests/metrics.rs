//! `/metrics` after a small run: every counter, histogram and gauge says what happened.

mod common;

use std::collections::HashMap;

use common::fake_sms::{FakeProvider, Fault, Provider, Report};
use common::{Backend, example, spawn_app_with};
use serde_json::{Value, json};

both_backends! {
    metrics_count_intake_sends_errors_receipts_and_deadline_margins;
}

/// `name{labels}` → value, from the Prometheus text format.
fn parse(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn get(metrics: &HashMap<String, f64>, key: &str) -> f64 {
    *metrics
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {metrics:#?}"))
}

async fn metrics_count_intake_sends_errors_receipts_and_deadline_margins(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let wire = fake.wiring();
    let app = spawn_app_with(backend, move |s| {
        wire(s);
    })
    .await;
    fake.auto_report(
        format!("{}/v1/receipts/generic-json", app.base),
        Report::Delivered,
    );
    // The first SMS meets a 500: one transient gateway error, then success.
    fake.fail_next(1, Fault::Http500);

    // One recipient of a meter visit: SMS (the legal notice) first, email held behind it.
    let mut visit = example("meter_visit");
    visit["recipients"] = json!([visit["recipients"][0].clone()]);
    let response = app.post_intent(&visit).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Replayed: not a second acceptance.
    assert_eq!(app.post_intent(&visit).await.status(), 202);
    // Two refusals: a meter visit with a bad phone (422), and a body that is not JSON.
    let mut bad = visit.clone();
    bad["external_id"] = json!("another");
    bad["recipients"][0]["contacts"]["phone"] = json!("12");
    assert_eq!(app.post_intent(&bad).await.status(), 422);
    let not_json = app
        .http
        .post(format!("{}/v1/intents", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);

    let intent = app
        .wait_for(&id, "SMS delivered and email cancelled", |i| {
            i["status_counts"] == json!({"delivered": 1, "cancelled": 1})
        })
        .await;
    let recipient = &intent["recipients"][0];
    let sms = common::messages(&intent)
        .into_iter()
        .find(|m| m["channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(sms["attempts"], 2, "{sms}");
    let deadline =
        chrono::DateTime::parse_from_rfc3339(recipient["deadline"].as_str().unwrap()).unwrap();
    let delivered =
        chrono::DateTime::parse_from_rfc3339(sms["delivered_at"].as_str().unwrap()).unwrap();
    let margin = (deadline - delivered).num_milliseconds() as f64 / 1000.0;

    let response = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = parse(&response.text().await.unwrap());

    assert_eq!(
        get(&m, r#"vestnik_intents_accepted_total{kind="meter_visit"}"#),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"vestnik_intents_rejected_total{kind="meter_visit",status="422"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"vestnik_intents_rejected_total{kind="unknown",status="400"}"#
        ),
        1.0
    );
    let sms_labels = r#"channel="sms",gateway="sms:generic-json""#;
    assert_eq!(
        get(&m, &format!("vestnik_send_seconds_count{{{sms_labels}}}")),
        2.0
    );
    assert_eq!(
        // Labels come sorted by name.
        get(
            &m,
            r#"vestnik_gateway_errors_total{channel="sms",class="transient",gateway="sms:generic-json"}"#
        ),
        1.0
    );
    assert!(
        !m.keys()
            .any(|k| k.starts_with("vestnik_send_seconds_count{channel=\"email\"")),
        "the held email was never sent"
    );
    assert_eq!(
        get(
            &m,
            r#"vestnik_receipts_total{gateway="sms:generic-json",status="delivered"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"vestnik_deadline_margin_seconds_count{channel="sms"}"#
        ),
        1.0
    );
    let observed = get(&m, r#"vestnik_deadline_margin_seconds_sum{channel="sms"}"#);
    assert!((observed - margin).abs() < 0.01, "{observed} vs {margin}");
    // Nothing left in flight, and the recipient got its legal notice: not at risk.
    assert!(
        !m.keys().any(|k| k.starts_with("vestnik_messages{")),
        "{m:#?}"
    );
    assert_eq!(get(&m, "vestnik_recipients_at_risk"), 0.0);
    // The SMS gateway's breaker saw one failure, then successes: closed.
    assert_eq!(
        get(
            &m,
            &format!("vestnik_circuit_breaker_state{{{sms_labels}}}")
        ),
        0.0
    );
    app.stop().await;
}
