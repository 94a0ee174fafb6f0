//! Deadline-aware dispatch end to end: sending windows, escalation to the next legal
//! channel when delivery goes unconfirmed, letters started early enough to arrive, and the
//! at-risk list. Durations in the channel plan are shortened so real time can pass.

mod common;

use chrono::{DateTime, Duration as Span, Timelike, Utc};
use common::bundles::{Auditor, receive, verify_offline};
use common::{Backend, channel, example, spawn_app_with, write_plans};
use serde_json::{Value, json};
use vestnik::storage::ReceiptOutcome;

both_backends! {
    unconfirmed_sms_escalates_to_email_after_its_wait;
    a_letter_starts_at_once_when_its_latency_leaves_no_time_to_wait;
    a_message_outside_its_sending_window_waits_for_the_opening;
    at_risk_lists_recipients_near_their_deadline_without_delivery;
    a_third_debt_sms_in_one_day_waits_for_the_next_day;
    recipients_sharing_an_account_share_its_contact_limit;
    an_email_the_contract_names_is_received_when_sent_and_ends_the_chain;
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn unconfirmed_sms_escalates_to_email_after_its_wait(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.dispatch.lease_secs = 2; // the sweeper, which escalates, runs every 0.5 s
        let dir = s.outbox.dir.parent().unwrap().to_owned();
        s.deadlines.plans_file = write_plans(&dir, |p| {
            p["confirm_within"]["sms"] = toml::Value::String("2s".into());
        });
    })
    .await;
    let mut body = example("meter_visit");
    body["recipients"] = json!([body["recipients"][0].clone()]); // channels: sms, then email
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();

    let first = app
        .wait_for(id, "sent the SMS", |i| {
            channel(i, 0, "sms")["status"] == "sent"
        })
        .await;
    assert_eq!(
        channel(&first, 0, "email")["status"],
        "held",
        "email waits while the SMS may still be confirmed"
    );
    let done = app
        .wait_for(id, "escalated to email", |i| {
            channel(i, 0, "email")["status"] == "sent"
        })
        .await;
    let waited =
        time(&channel(&done, 0, "email")["sent_at"]) - time(&channel(&done, 0, "sms")["sent_at"]);
    assert!(
        waited >= Span::seconds(2),
        "email started only after the SMS went unconfirmed for 2 s: {waited}"
    );
    assert!(
        waited < Span::seconds(10),
        "and promptly after that: {waited}"
    );
    app.stop().await;
}

async fn a_letter_starts_at_once_when_its_latency_leaves_no_time_to_wait(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.dispatch.lease_secs = 2;
        let dir = s.outbox.dir.parent().unwrap().to_owned();
        // Letters take 7 days plus a 2-day margin to plan with.
        s.deadlines.plans_file = write_plans(&dir, |p| {
            p["margin"] = toml::Value::String("2d".into());
        });
    })
    .await;
    let template = example("debt_warning");
    let mut recipient = template["recipients"][2].clone(); // an individual with email + sms
    recipient["channels"] = json!(["email", "mail"]);
    recipient["contacts"]["postal_address"] =
        json!({"postcode": "101000", "address": "г. Москва, ул. Мясницкая, д. 1"});
    let today = Utc::now().date_naive();
    let intent_for = |restriction_in_days: u64, external_id: &str| {
        let mut body = template.clone();
        let restriction = today + chrono::Days::new(restriction_in_days);
        body["external_id"] = json!(external_id);
        body["event"]["restriction_date"] = json!(restriction.to_string());
        body["event"]["pay_by"] = json!(restriction.to_string());
        body["recipients"] = json!([recipient.clone()]);
        body
    };

    // Restriction in 29 days: the deadline (20 clear days before) is ~8 days away, inside
    // the letter's 9 days: the letter cannot wait for the email's 24 h confirmation.
    let near: Value = app
        .post_intent(&intent_for(29, "debt-near"))
        .await
        .json()
        .await
        .unwrap();
    let near_id = near["id"].as_str().unwrap();
    let done = app
        .wait_for(near_id, "sent the letter", |i| {
            channel(i, 0, "mail")["status"] == "sent"
        })
        .await;
    assert_eq!(channel(&done, 0, "email")["status"], "sent");

    // Restriction in 60 days: the letter is held until deadline - 9 days.
    let far = app.post_intent(&intent_for(60, "debt-far")).await;
    assert_eq!(far.status(), 202);
    let far: Value = far.json().await.unwrap();
    let (_, intent) = app
        .get_json(&format!("/v1/intents/{}", far["id"].as_str().unwrap()))
        .await;
    let mail = channel(&intent, 0, "mail");
    assert_eq!(mail["status"], "held");
    let deadline = time(&intent["recipients"][0]["deadline"]);
    assert_eq!(
        time(&mail["next_attempt_at"]),
        deadline - Span::days(9),
        "latest start = deadline - latency - margin"
    );
    app.stop().await;
}

async fn a_message_outside_its_sending_window_waits_for_the_opening(backend: Backend) {
    // A window for SMS that opens two hours from now (UTC), whatever the time of day.
    let opens = Utc::now() + Span::hours(2);
    let from = format!("{:02}:00", opens.hour());
    let to = format!("{:02}:59", opens.hour());
    let app = spawn_app_with(backend, move |s| {
        let dir = s.outbox.dir.parent().unwrap().to_owned();
        s.deadlines.plans_file = write_plans(&dir, |p| {
            let window: toml::Table = toml::from_str(&format!(
                "name = \"test window\"\nchannels = [\"sms\"]\nsource = \"test\"\n\
                 working_days = {{ from = \"{from}\", to = \"{to}\" }}\ndays_off = {{ from = \"{from}\", to = \"{to}\" }}"
            ))
            .unwrap();
            p.insert("windows".into(), toml::Value::Array(vec![toml::Value::Table(window)]));
        });
    })
    .await;
    let mut body = example("meter_visit");
    let mut recipient = body["recipients"][0].clone();
    recipient["time_zone"] = json!("Etc/UTC");
    recipient["channels"] = json!(["sms"]);
    body["recipients"] = json!([recipient]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "deferred the SMS", |i| {
            channel(i, 0, "sms")["reason"]
                .as_str()
                .is_some_and(|r| r.contains("sending window"))
        })
        .await;
    let sms = channel(&intent, 0, "sms");
    assert_eq!(sms["status"], "queued", "waiting, not dropped: {sms}");
    assert_eq!(sms["attempts"], 0, "a deferral is not a failed attempt");
    let expected = opens
        .date_naive()
        .and_hms_opt(opens.hour(), 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(time(&sms["next_attempt_at"]), expected);
    assert!(common::files(&app.outbox()).is_empty());
    app.stop().await;
}

async fn at_risk_lists_recipients_near_their_deadline_without_delivery(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let mut body = example("appeal_reply");
    // Registered today: 15 days to reply.
    body["event"]["appeal_registered_at"] = json!(Utc::now().to_rfc3339());
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    app.wait_settled(id).await;

    let (status, soon) = app.get_json("/v1/compliance/at-risk?within_hours=24").await;
    assert_eq!(status, 200);
    assert_eq!(
        soon["recipients"],
        json!([]),
        "15 days left is not at risk within 24 h"
    );
    let (_, month) = app
        .get_json("/v1/compliance/at-risk?within_hours=720")
        .await;
    let listed = month["recipients"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{month}");
    assert_eq!(listed[0]["intent_id"], id);
    assert_eq!(listed[0]["overdue"], false);
    assert!(
        listed
            .iter()
            .all(|r| r["legal_notices_sent_unconfirmed"].as_i64().unwrap() >= 1),
        "{month}"
    );
    let (status, problem) = app.get_json("/v1/compliance/at-risk?within_hours=-1").await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("within_hours"),
        "{problem}"
    );
    let (status, problem) = app.get_json("/v1/compliance/at-risk?limit=0").await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"].as_str().unwrap().starts_with("limit"),
        "{problem}"
    );
    app.stop().await;
}

/// Decree 442: a legal entity's debt notice emailed to the address its contract names is
/// received when sent. The same notice to an address the contract does not name waits for
/// a report, with the letter held behind it.
async fn an_email_the_contract_names_is_received_when_sent_and_ends_the_chain(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        let dir = s.outbox.dir.parent().unwrap().to_owned();
        s.deadlines.plans_file = write_plans(&dir, |_| {});
    })
    .await;
    let mut body = example("debt_warning");
    let mut named = body["recipients"][1].clone();
    assert_eq!(named["customer_type"], "legal_entity");
    named["channels"] = json!(["email", "mail"]);
    let mut other = named.clone();
    named["contract_contacts"] = json!(["email"]);
    other["account_number"] = json!("77-0045872/01");
    body["recipients"] = json!([named, other]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();

    let done = app
        .wait_for(id, "sent both emails", |i| {
            channel(i, 0, "email")["status"] == "sent" && channel(i, 1, "email")["status"] == "sent"
        })
        .await;
    assert_eq!(channel(&done, 0, "email")["received_when_sent"], true);
    let letter = channel(&done, 0, "mail");
    assert_eq!(letter["status"], "cancelled", "{done}");
    assert!(
        letter["reason"]
            .as_str()
            .unwrap()
            .contains("contract names"),
        "{letter}"
    );
    assert_eq!(channel(&done, 1, "email")["received_when_sent"], false);
    assert_eq!(channel(&done, 1, "mail")["status"], "held", "{done}");
    // A "busy, try again" report does not send it again: its send is its receipt.
    let outcome = receive(&app, channel(&done, 0, "email"), "retry", None).await;
    assert!(
        matches!(outcome, ReceiptOutcome::Recorded { applied: false, .. }),
        "{outcome:?}"
    );

    let auditor = Auditor::new(&app).await;
    let bundle = auditor.json(&format!("/v1/intents/{id}/proof")).await;
    let r = &bundle["recipients"];
    assert_eq!(r[0]["messages"][0]["status"], "sent", "{}", r[0]);
    assert_eq!(r[0]["verdict"], "delivered_on_time", "{}", r[0]);
    assert!(
        r[0]["verdict_reason"]
            .as_str()
            .unwrap()
            .starts_with("deemed received when sent"),
        "{}",
        r[0]
    );
    assert_eq!(r[1]["verdict"], "unconfirmed", "{}", r[1]);
    // The offline recipe finds the deemed receipt in the ledger (the `sent` attempt).
    let work = tempfile::tempdir().unwrap();
    auditor.unzipped(id, work.path()).await;
    let (ok, out) = verify_offline(work.path(), None);
    assert!(ok, "{out}");
    // The deadline is weeks away; a year's horizon lists only the one still unconfirmed.
    let (_, at_risk) = app
        .get_json("/v1/compliance/at-risk?within_hours=8784")
        .await;
    let listed: Vec<i64> = at_risk["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recipient_id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [1], "{at_risk}");
    app.stop().await;
}

async fn a_third_debt_sms_in_one_day_waits_for_the_next_day(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let template = example("debt_warning");
    let mut recipient = template["recipients"][0].clone(); // an individual
    // The SMS is supplementary for debts (the legal notice is the letter), but still a
    // creditor's message under 230-FZ's limits; letters are not counted by them.
    recipient["channels"] = json!(["mail", "sms"]);
    let tz: chrono_tz::Tz = recipient["time_zone"].as_str().unwrap().parse().unwrap();
    let mut ids = Vec::new();
    for n in 0..3 {
        let mut body = template.clone();
        body["external_id"] = json!(format!("debt-limit-{n}"));
        body["recipients"] = json!([recipient.clone()]);
        let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
        let id = accepted["id"].as_str().unwrap().to_owned();
        // One after another, so the limit sees each send.
        app.wait_for(&id, "handled the SMS", |i| {
            let sms = channel(i, 0, "sms");
            sms["status"] == "sent" || sms["reason"].as_str().is_some_and(|r| r.contains("230-FZ"))
        })
        .await;
        ids.push(id);
    }
    let (_, third) = app.get_json(&format!("/v1/intents/{}", ids[2])).await;
    let sms = channel(&third, 0, "sms");
    assert_eq!(sms["status"], "queued", "{sms}");
    assert_eq!(sms["attempts"], 0);
    let tomorrow = Utc::now().with_timezone(&tz).date_naive() + chrono::Days::new(1);
    let midnight = tomorrow
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(tz)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        time(&sms["next_attempt_at"]),
        midnight,
        "waits for the customer's next day"
    );
    for id in &ids[..2] {
        let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
        assert_eq!(channel(&intent, 0, "sms")["status"], "sent");
    }
    app.stop().await;
}

/// Three recipients on one account in one intent, claimed together: two SMS go today and
/// the third waits (each must not count the others, claimed alongside, as already sent).
async fn recipients_sharing_an_account_share_its_contact_limit(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let mut body = example("debt_warning");
    let mut recipient = body["recipients"][0].clone(); // an individual
    recipient["channels"] = json!(["mail", "sms"]);
    body["recipients"] = json!([recipient.clone(), recipient.clone(), recipient]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    let intent = app
        .wait_for(&id, "two SMS sent", |i| {
            (0..3)
                .filter(|&r| channel(i, r, "sms")["status"] == "sent")
                .count()
                == 2
        })
        .await;
    let waiting: Vec<Value> = (0..3)
        .map(|r| channel(&intent, r, "sms").clone())
        .filter(|sms| sms["status"] != "sent")
        .collect();
    assert_eq!(waiting.len(), 1, "{intent}");
    assert_eq!(waiting[0]["status"], "queued", "{intent}");
    assert!(
        waiting[0]["reason"].as_str().unwrap().contains("230-FZ"),
        "{intent}"
    );
    app.stop().await;
}

mod claims {
    //! Leases and claims at the storage level, where two workers can be made to race.

    use std::time::Duration;

    use super::*;
    use vestnik::queue::DeliveryJob;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    use vestnik::storage::{Outcome, OutcomeStatus};

    both_backends! {
        a_worker_whose_lease_was_taken_over_cannot_overwrite_the_new_attempt;
        of_two_claims_on_one_account_only_the_later_counts_the_other;
    }

    /// Two workers claim SMS to one account at once (recipients in different ranges). The
    /// earlier claim does not count the later one's as sent, or each would defer for the
    /// other, to the next day and again the day after; the later one counts the earlier.
    async fn of_two_claims_on_one_account_only_the_later_counts_the_other(backend: Backend) {
        let clock = vestnik::clock::Clock::fake(at("2026-12-15T00:00:00Z"));
        let app = common::spawn_app_clocked(backend, clock, |s| {
            s.deadlines.plans_file = common::repo_path("config/channel_plans.toml");
        })
        .await;
        let mut body = example("debt_warning");
        let mut recipient = body["recipients"][0].clone(); // an individual
        recipient["time_zone"] = json!("Europe/Moscow");
        recipient["channels"] = json!(["mail", "sms"]);
        let account = recipient["account_number"].as_str().unwrap().to_owned();
        body["recipients"] = json!([recipient.clone(), recipient]);
        let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
        let id = accepted["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{accepted}"))
            .to_owned();
        // 03:00 in Moscow: the app's own worker defers both SMS to the morning.
        app.wait_for(&id, "deferred both SMS", |i| {
            (0..2).all(|r| {
                channel(i, r, "sms")["reason"]
                    .as_str()
                    .is_some_and(|why| why.contains("quiet hours"))
            })
        })
        .await;
        let now = at("2026-12-15T06:00:00Z").timestamp_millis();
        let lease = Duration::from_secs(60);
        let (earlier, a) = app.db.claim(&id, 0, 1, lease, now).await.unwrap();
        let (later, b) = app.db.claim(&id, 1, 2, lease, now).await.unwrap();
        assert!(a.iter().any(|m| m.channel == "sms") && b.iter().any(|m| m.channel == "sms"));
        assert!(earlier < later);
        let since = [now - 3_600_000; 3];
        let counted = |claim: String| {
            let db = app.db.clone();
            let account = account.clone();
            async move {
                db.sent_to_account(&account, "debt_warning", &["sms"], since, &claim)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(counted(earlier).await, [0, 0, 0], "the earlier claim goes");
        assert_eq!(counted(later).await, [1, 1, 1], "the later claim counts it");
        app.stop().await;
    }

    fn sent(id: &str) -> Outcome {
        Outcome {
            gateway: Some("outbox".into()),
            gateway_message_id: Some("late".into()),
            ..Outcome::new(id, OutcomeStatus::Sent, None)
        }
    }

    async fn a_worker_whose_lease_was_taken_over_cannot_overwrite_the_new_attempt(
        backend: Backend,
    ) {
        // 03:00 in Moscow: the app's own worker defers the SMS to 09:00 and leaves it be;
        // the test then plays two workers claiming it at 09:00.
        let clock = vestnik::clock::Clock::fake(at("2027-03-01T00:00:00Z"));
        let app = common::spawn_app_clocked(backend, clock, |s| {
            s.deadlines.plans_file = common::repo_path("config/channel_plans.toml");
        })
        .await;
        let mut body = example("meter_visit");
        let mut recipient = body["recipients"][0].clone();
        recipient["time_zone"] = json!("Europe/Moscow");
        body["recipients"] = json!([recipient]);
        let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
        let id = accepted["id"].as_str().unwrap().to_owned();
        app.wait_for(&id, "deferred the SMS", |i| {
            common::messages(i).iter().any(|c| {
                c["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("quiet hours"))
            })
        })
        .await;
        let now = at("2027-03-01T06:00:00Z").timestamp_millis();
        let lease = Duration::from_secs(60);
        let (first_claim, taken) = app.db.claim(&id, 0, 1, lease, now).await.unwrap();
        assert!(!taken.is_empty());
        // The first worker stalls past its lease; a second claims the same messages.
        let (second_claim, retaken) = app.db.claim(&id, 0, 1, lease, now + 61_000).await.unwrap();
        assert_eq!(retaken.len(), taken.len());
        for (old, new) in taken.iter().zip(&retaken) {
            assert_eq!(
                (new.attempts, new.lost_claims),
                (old.attempts, old.lost_claims + 1),
                "a claim taken over is a lost claim, not another attempt"
            );
        }
        let job = DeliveryJob {
            intent_id: id.clone(),
            first: 0,
            end: 1,
            ..DeliveryJob::default()
        };
        let outcomes: Vec<Outcome> = taken.iter().map(|m| sent(&m.id)).collect();
        app.db
            .record_outcomes(&job, &first_claim, &taken, &outcomes, now + 62_000)
            .await
            .unwrap();
        let claimed_status = |intent: &Value| -> Vec<String> {
            common::messages(intent)
                .into_iter()
                .filter(|c| {
                    taken
                        .iter()
                        .any(|m| m.id == c["message_id"].as_str().unwrap())
                })
                .map(|c| c["status"].as_str().unwrap().to_owned())
                .collect()
        };
        let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
        assert_eq!(
            claimed_status(&intent),
            vec!["sending"],
            "the stale claim wrote nothing: {intent}"
        );
        app.db
            .record_outcomes(&job, &second_claim, &retaken, &outcomes, now + 63_000)
            .await
            .unwrap();
        let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
        assert_eq!(claimed_status(&intent), vec!["sent"], "{intent}");
        app.stop().await;
    }
}
