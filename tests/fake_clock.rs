//! Deadline logic under a fake clock, with the shipped channel plans and sending windows:
//! an SMS waits for morning in the recipient's zone, goes unconfirmed for its two hours and
//! hands over to email; a registered letter leaves when its latency says so, before the
//! email's own confirmation wait is over.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{Backend, TestApp, example, spawn_app_clocked};
use serde_json::{Value, json};
use vestnik::clock::Clock;
use vestnik::queue::DeliveryJob;

both_backends! {
    a_night_sms_waits_for_morning_then_escalates_to_email_when_unconfirmed;
    a_letter_leaves_at_its_latest_start_before_the_emails_wait_is_over;
    a_regional_holiday_closes_the_working_day_window_in_that_region_only;
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn channel<'a>(intent: &'a Value, name: &str) -> &'a Value {
    common::messages(intent)
        .into_iter()
        .find(|c| c["channel"] == name)
        .unwrap()
}

async fn app(backend: Backend, clock: &Clock) -> TestApp {
    spawn_app_clocked(backend, clock.clone(), |s| {
        // The shipped plans, windows included: this test controls the hour.
        s.deadlines.plans_file = common::repo_path("config/channel_plans.toml");
    })
    .await
}

/// Runs the intent's delivery job now (apalis schedules retries in real time).
async fn run_job(app: &TestApp, id: &str) {
    let job = DeliveryJob {
        intent_id: id.to_owned(),
        first: 0,
        end: 1,
        ..DeliveryJob::default()
    };
    app.db.push_job(&job, Duration::ZERO).await.unwrap();
}

async fn a_night_sms_waits_for_morning_then_escalates_to_email_when_unconfirmed(backend: Backend) {
    // Monday 1 March 2027, 03:00 in Moscow.
    let clock = Clock::fake(at("2027-03-01T00:00:00Z"));
    let app = app(backend, &clock).await;
    let mut body = example("meter_visit");
    let mut recipient = body["recipients"][0].clone(); // SMS, then email
    recipient["time_zone"] = json!("Europe/Moscow");
    body["recipients"] = json!([recipient]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();

    let night = app
        .wait_for(id, "deferred the SMS", |i| {
            channel(i, "sms")["reason"]
                .as_str()
                .is_some_and(|r| r.contains("quiet hours"))
        })
        .await;
    assert_eq!(channel(&night, "sms")["status"], "queued");
    assert_eq!(
        at(channel(&night, "sms")["next_attempt_at"].as_str().unwrap()),
        at("2027-03-01T06:00:00Z"),
        "09:00 Moscow"
    );
    assert_eq!(channel(&night, "email")["status"], "held");

    clock.set(at("2027-03-01T06:00:00Z"));
    run_job(&app, id).await;
    let morning = app
        .wait_for(id, "sent the SMS", |i| {
            channel(i, "sms")["status"] == "sent"
        })
        .await;
    assert_eq!(
        at(channel(&morning, "sms")["sent_at"].as_str().unwrap()),
        at("2027-03-01T06:00:00Z")
    );

    // No delivery report: after its 2 h confirmation wait, and not before, email starts.
    clock.set(at("2027-03-01T07:59:59Z"));
    assert_eq!(app.db.escalate(500, clock.now_ms()).await.unwrap(), 0);
    let (_, still) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(channel(&still, "email")["status"], "held");
    clock.set(at("2027-03-01T08:00:00Z"));
    let released = app.db.escalate(500, clock.now_ms()).await.unwrap();
    let done = app
        .wait_for(id, "escalated to email", |i| {
            channel(i, "email")["status"] == "sent"
        })
        .await;
    assert!(released <= 1, "the sweeper may have got there first");
    assert_eq!(
        at(channel(&done, "email")["sent_at"].as_str().unwrap()),
        at("2027-03-01T08:00:00Z")
    );
    app.stop().await;
}

async fn a_letter_leaves_at_its_latest_start_before_the_emails_wait_is_over(backend: Backend) {
    // Monday 1 March 2027, noon in Moscow.
    let clock = Clock::fake(at("2027-03-01T09:00:00Z"));
    let app = app(backend, &clock).await;
    let mut body = example("debt_warning");
    let mut recipient = body["recipients"][2].clone(); // an individual
    recipient["time_zone"] = json!("Europe/Moscow");
    recipient["channels"] = json!(["email", "mail"]);
    recipient["contacts"]["postal_address"] =
        json!({"postcode": "101000", "address": "г. Москва, ул. Мясницкая, д. 1"});
    body["recipients"] = json!([recipient]);
    // Restriction on 30 March: 20 clear days before it, the deadline is 9 March 23:59 MSK.
    body["event"]["restriction_date"] = json!("2027-03-30");
    body["event"]["pay_by"] = json!("2027-03-29");
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();

    let sent = app
        .wait_for(id, "sent the email", |i| {
            channel(i, "email")["status"] == "sent"
        })
        .await;
    assert_eq!(
        sent["recipients"][0]["deadline"],
        "2027-03-09T20:59:59.000Z"
    );
    let letter = channel(&sent, "mail");
    assert_eq!(letter["status"], "held");
    // 7 days' postal latency + 12 h margin before the deadline.
    assert_eq!(
        at(letter["next_attempt_at"].as_str().unwrap()),
        at("2027-03-02T08:59:59Z")
    );

    clock.set(at("2027-03-02T08:59:58Z"));
    assert_eq!(app.db.escalate(500, clock.now_ms()).await.unwrap(), 0);
    clock.set(at("2027-03-02T08:59:59Z"));
    app.db.escalate(500, clock.now_ms()).await.unwrap();
    let done = app
        .wait_for(id, "sent the letter", |i| {
            channel(i, "mail")["status"] == "sent"
        })
        .await;
    let email_sent = at(channel(&done, "email")["sent_at"].as_str().unwrap());
    let letter_sent = at(channel(&done, "mail")["sent_at"].as_str().unwrap());
    assert!(
        letter_sent < email_sent + chrono::Duration::hours(24),
        "latency, not the email's 24 h wait, started it"
    );
    app.stop().await;
}

/// Republic Day, Mon 30 Aug 2027, is a day off in Tatarstan only: a debt notice (working
/// days only) to a customer there waits for Tuesday; the same notice in Moscow goes.
async fn a_regional_holiday_closes_the_working_day_window_in_that_region_only(backend: Backend) {
    // 10:00 in Moscow and Kazan.
    let clock = Clock::fake(at("2027-08-30T07:00:00Z"));
    let app = app(backend, &clock).await;
    let mut body = example("debt_warning");
    let mut kazan = body["recipients"][1].clone(); // a legal entity
    kazan["time_zone"] = json!("Europe/Moscow");
    kazan["channels"] = json!(["email", "mail"]);
    let mut moscow = kazan.clone();
    kazan["region"] = json!("RU-TA");
    moscow["account_number"] = json!("77-0045872/01");
    body["recipients"] = json!([kazan, moscow]);
    body["event"]["restriction_date"] = json!("2027-10-15");
    body["event"]["pay_by"] = json!("2027-10-14");
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();

    let done = app
        .wait_for(id, "sent one email and deferred the other", |i| {
            common::channel(i, 1, "email")["status"] == "sent"
                && common::channel(i, 0, "email")["reason"].is_string()
        })
        .await;
    let waiting = common::channel(&done, 0, "email");
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert!(
        waiting["reason"]
            .as_str()
            .unwrap()
            .contains("working days only"),
        "{waiting}"
    );
    assert_eq!(
        at(waiting["next_attempt_at"].as_str().unwrap()),
        at("2027-08-30T21:00:00Z"),
        "Tuesday 00:00 in Kazan"
    );
    app.stop().await;
}
