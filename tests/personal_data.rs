//! Personal data never reaches the logs (152-FZ): a run of every kind through SMTP, an SMS
//! provider and the outbox, with refusals and a rejected request, is logged at TRACE for
//! every crate, and the captured text is searched for each raw name, phone, email and address.

mod common;

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use common::fake_sms::{FakeProvider, Fault, Provider, Report};
use common::smtp_sink::SmtpSink;
use common::{Backend, example, spawn_app_with};
use serde_json::{Value, json};
use vestnik::intents::IntentKind;
use vestnik::settings::GatewayName;

both_backends! {
    a_full_run_logs_no_raw_personal_data;
}

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything every crate logs, spans and their fields included, in both formats the
/// binary can write.
fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let text = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Capture);
        let json = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(|| Capture);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .with(text)
            .with(json);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The raw personal data of every example: recipients' names, contact points, addresses.
fn personal_data(bodies: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for body in bodies {
        for r in body["recipients"].as_array().unwrap() {
            let c = &r["contacts"];
            for value in [
                &r["name"],
                &c["email"],
                &c["phone"],
                &c["fax"],
                &c["postal_address"]["address"],
            ] {
                if let Some(v) = value.as_str() {
                    out.push(v.to_owned());
                    // A phone without its plus, as gateways and their errors write it.
                    if let Some(digits) = v.strip_prefix('+') {
                        out.push(digits.to_owned());
                    }
                }
            }
            if let Some(surname) = r["name"].as_str().and_then(|n| n.split_whitespace().next()) {
                out.push(surname.to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

async fn a_full_run_logs_no_raw_personal_data(backend: Backend) {
    capture_logs();
    let sink = SmtpSink::start().await;
    let sms = FakeProvider::start(Provider::GenericJson).await;
    let (smtp_port, wire) = (sink.port, sms.wiring());
    let app = spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.port = smtp_port;
        wire(s);
        s.dispatch.lease_secs = 2;
    })
    .await;
    sms.auto_report(
        format!("{}/v1/receipts/generic-json", app.base),
        Report::Delivered,
    );

    let bodies: Vec<Value> = IntentKind::ALL
        .iter()
        .map(|k| example(k.as_str()))
        .collect();
    let secrets = personal_data(&bodies);
    assert!(
        secrets.len() > 20,
        "the examples carry personal data: {secrets:?}"
    );
    // Refusals whose answers name the person: the relay echoes the address, the SMS
    // provider fails an attempt.
    // (The tariff change's first recipient gets the legal notice by email.)
    let tariff = IntentKind::ALL
        .iter()
        .position(|k| *k == IntentKind::TariffChange)
        .unwrap();
    let refused = bodies[tariff]["recipients"][0]["contacts"]["email"]
        .as_str()
        .unwrap();
    sink.reject_recipients_containing(refused);
    sms.fail_next(1, Fault::Permanent);

    let mut answers = String::new();
    for (i, body) in bodies.iter().enumerate() {
        let mut body = body.clone();
        body["external_id"] = json!(format!("pd-{i}"));
        let response = app.post_intent(&body).await;
        assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        let accepted: Value = response.json().await.unwrap();
        app.wait_settled(accepted["id"].as_str().unwrap()).await;
    }
    // A rejected request: its problem+json names fields, never echoes their values.
    let mut bad = bodies[0].clone();
    bad["recipients"][0]["contacts"]["phone"] = json!("+7 916 123 45 67 доб. 5");
    bad["recipients"][1]["contacts"]["email"] = json!("office@@vector-trade.example.ru");
    bad["recipients"][1]["time_zone"] = json!("Mars/Olympus");
    let response = app.post_intent(&bad).await;
    assert_eq!(response.status(), 422);
    answers.push_str(&response.text().await.unwrap());
    assert!(
        sink.received().len() > 1,
        "email went out through the relay"
    );
    assert!(
        !sms.received().is_empty(),
        "SMS went out through the provider"
    );
    app.stop().await;

    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    assert!(
        logs.contains("request"),
        "the capture saw the run: {} bytes",
        logs.len()
    );
    assert!(
        logs.contains("Recipient address rejected"),
        "the relay's refusal was logged, so its masking was checked"
    );
    assert!(logs.contains("invalid_number"), "so was the SMS provider's");
    let mut leaks = Vec::new();
    for secret in &secrets {
        for (what, text) in [("logs", &logs), ("error answers", &answers)] {
            if let Some(at) = text.find(secret.as_str()) {
                let line = text[..at].rfind('\n').map_or(0, |n| n + 1);
                let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
                leaks.push(format!("{what}: {secret:?} in {}", &text[line..end]));
            }
        }
    }
    assert!(leaks.is_empty(), "raw personal data:\n{}", leaks.join("\n"));
}
