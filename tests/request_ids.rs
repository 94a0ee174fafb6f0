//! One request id follows an intent from intake into its delivery jobs' logs, and the
//! JSON log of a whole run names no recipient.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Backend, example, spawn_app};
use serde_json::Value;
use vestnik::telemetry::{self, LogFormat};

both_backends! {
    a_request_id_is_kept_or_made_and_carried_into_the_delivery_jobs;
}

/// The log, captured: the subscriber is global to this test binary, so each test finds
/// its own lines by its own ids.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Captured::default();
        let writer = log.clone();
        telemetry::init_writing_to(LogFormat::Json, move || writer.clone());
        log
    })
    .clone()
}

fn lines(log: &Captured) -> Vec<Value> {
    String::from_utf8(log.0.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn a_request_id_is_kept_or_made_and_carried_into_the_delivery_jobs(backend: Backend) {
    let log = captured();
    let app = spawn_app(backend).await;
    let request_id = format!("billing-{}", uuid::Uuid::now_v7().simple());
    let body = example("meter_visit");
    let response = app
        .http
        .post(format!("{}/v1/intents", app.base))
        .bearer_auth(&app.token)
        .header("x-request-id", &request_id)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let stored = app.db.intent(id).await.unwrap().unwrap();
    assert_eq!(stored.request_id.as_deref(), Some(request_id.as_str()));
    app.wait_settled(id).await;

    // Intake's line and each delivery job's line carry the id, in their spans.
    let logged = lines(&log);
    let of_request: Vec<&Value> = logged
        .iter()
        .filter(|l| l.to_string().contains(&request_id))
        .collect();
    let accepted_line = of_request
        .iter()
        .find(|l| l["message"] == "intent accepted")
        .expect("intake logs in the request's span");
    assert_eq!(accepted_line["span"]["request_id"], request_id.as_str());
    let jobs: Vec<&&Value> = of_request
        .iter()
        .filter(|l| l["message"] == "delivery job done")
        .collect();
    assert!(
        !jobs.is_empty(),
        "the delivery jobs log under the request id"
    );
    for job in jobs {
        assert_eq!(job["span"]["intent_id"], id);
        assert_eq!(job["span"]["request_id"], request_id.as_str());
    }

    // Nothing of the recipients' personal data is in the log.
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    for recipient in body["recipients"].as_array().unwrap() {
        let name = recipient["name"].as_str().unwrap();
        assert!(!text.contains(name), "a name in the log");
        for contact in ["phone", "email"] {
            if let Some(value) = recipient["contacts"][contact].as_str() {
                assert!(!text.contains(value), "a {contact} in the log");
            }
        }
    }

    // A request id that is not a plausible id is replaced by a generated one.
    for bad in ["x".repeat(200), "two words".to_owned()] {
        let response = app
            .http
            .get(format!("{}/health", app.base))
            .header("x-request-id", &bad)
            .send()
            .await
            .unwrap();
        let given = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(given, bad);
        assert!(uuid::Uuid::parse_str(given).is_ok(), "{given}");
    }
    // None given: one is made.
    let response = app
        .http
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(response.headers()["x-request-id"].to_str().unwrap()).is_ok());
    app.stop().await;
}
