//! Earliest deadline first: with the SMS provider saturated by a big mailing due in weeks,
//! a notice due sooner, posted later, is sent within seconds, not after the mailing.

mod common;

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use common::fake_sms::{FakeProvider, Provider};
use common::{Backend, TestApp, example, spawn_app_with};
use serde_json::{Value, json};

both_backends! {
    an_urgent_notice_overtakes_a_big_mailing_due_later;
}

/// Waits until the fake received an SMS for a phone containing `marker`; returns how long
/// that took and how many of the mailing's SMS had gone out by then.
async fn sent_to(fake: &FakeProvider, marker: &str, what: &str) -> (Duration, usize) {
    let posted = Instant::now();
    loop {
        let received = fake.received();
        if received.iter().any(|r| r.to.contains(marker)) {
            let bulk = received.iter().filter(|r| r.to.contains("79131")).count();
            return (posted.elapsed(), bulk);
        }
        assert!(
            posted.elapsed() < Duration::from_secs(60),
            "{what} was never sent"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The generic-JSON profile allows 50 SMS/s: 1,500 take half a minute.
const FLOOD: usize = 1_500;

/// A meter visit in `days` days (its notice is due 10 days before) for `n` recipients,
/// by SMS (the legal notice for this kind) then email.
fn visit(days: u64, n: usize, tag: &str) -> Value {
    let mut body = example("meter_visit");
    let date = Utc::now().date_naive() + Days::new(days);
    body["event"]["visit_date"] = json!(date.to_string());
    body["external_id"] = json!(format!("edf-{tag}"));
    let template = body["recipients"][0].clone();
    body["recipients"] = (0..n)
        .map(|i| {
            let mut r = template.clone();
            r["account_number"] = json!(format!("{tag}{i:07}"));
            let series = match tag {
                "bulk" => 1,
                "urgent" => 9,
                _ => 8,
            };
            r["contacts"]["phone"] = json!(format!("+7913{series}{i:06}"));
            r["channels"] = json!(["sms", "email"]);
            r
        })
        .collect();
    body
}

/// Posts the visit on the first working day from `days` ahead (the service knows the
/// production calendar; visits are on working days only).
async fn accept(app: &TestApp, days: u64, n: usize, tag: &str) {
    for day in days..days + 14 {
        let response = app.post_intent(&visit(day, n, tag)).await;
        match response.status().as_u16() {
            202 => return,
            422 => continue,
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    panic!("no working day within two weeks of {days} days ahead");
}

async fn an_urgent_notice_overtakes_a_big_mailing_due_later(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let wire = fake.wiring();
    let app = spawn_app_with(backend, move |s| {
        wire(s);
        // Jobs of 25 recipients: a worker holds little, so what it takes next matters.
        s.dispatch.batch_size = 25;
    })
    .await;

    accept(&app, 40, FLOOD, "bulk").await;
    let started = Instant::now();
    while fake.received().len() < 100 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the mailing never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    accept(&app, 12, 1, "urgent").await;
    let (waited, bulk_sent) = sent_to(&fake, "79139", "the urgent notice").await;
    assert!(
        waited < Duration::from_secs(5),
        "the urgent notice waited {waited:?} behind the mailing"
    );
    assert!(
        bulk_sent < FLOOD / 2,
        "it went out while the mailing was still running ({bulk_sent} of {FLOOD} sent)"
    );

    // Same deadline as the mailing, one recipient: it takes its turn with the mailing's
    // next job instead of queueing behind all of them.
    accept(&app, 40, 1, "peer").await;
    let (waited, bulk_sent) = sent_to(&fake, "79138", "the small intent").await;
    assert!(
        waited < Duration::from_secs(5),
        "a one-recipient intent due with the mailing waited {waited:?}"
    );
    assert!(
        bulk_sent < FLOOD * 3 / 4,
        "{bulk_sent} of {FLOOD} sent before it"
    );
    app.stop().await;
}
