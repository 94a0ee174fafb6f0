//! SMS through a real provider API end to end: intent → the provider's fake on loopback →
//! its delivery report on POST /v1/receipts/{profile} → `delivered` in GET /v1/intents.

mod common;

use std::time::Duration;

use common::fake_sms::{FakeProvider, Fault, Provider, Report, Signing};
use common::{Backend, TestApp, example, spawn_app_clocked, spawn_app_with};
use serde_json::{Value, json};

both_backends! {
    an_sms_is_delivered_through_each_provider_and_its_report_recorded;
    forged_duplicate_early_and_unknown_reports_are_handled;
    provider_faults_are_retried_or_failed_and_escalate;
    an_sms_without_a_report_for_72_hours_becomes_unconfirmed;
    a_status_poll_finds_the_delivery_a_lost_webhook_did_not_bring;
    a_report_finds_its_message_through_the_partial_gateway_index;
    reports_arriving_together_each_get_their_own_answer;
    one_group_applies_each_messages_first_final_report;
    a_message_whose_claims_keep_ending_without_an_outcome_is_failed;
    a_late_report_about_an_earlier_attempt_leaves_the_newer_one_alone;
    a_failed_outcome_write_is_tried_again_not_sent_again;
}

async fn app_with(backend: Backend, fake: &FakeProvider) -> TestApp {
    let wire = fake.wiring();
    spawn_app_with(backend, move |s| {
        wire(s);
        s.dispatch.lease_secs = 2; // sweeps (and escalation) every half second
    })
    .await
}

/// One individual recipient of a meter visit, by SMS then email.
fn visit() -> Value {
    let mut body = example("meter_visit");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    body
}

/// The intent, SMS and provider ids of one [`visit`], once its SMS is recorded `sent`.
struct Sent {
    id: String,
    message_id: String,
    provider_id: String,
}

async fn sent_visit(app: &TestApp) -> Sent {
    let accepted: Value = app.post_intent(&visit()).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    let intent = app
        .wait_for(&id, "sent", |i| sms(i)["status"] == "sent")
        .await;
    let text = |key: &str| sms(&intent)[key].as_str().unwrap().to_owned();
    Sent {
        message_id: text("message_id"),
        provider_id: text("gateway_message_id"),
        id,
    }
}

fn sms(intent: &Value) -> &Value {
    common::messages(intent)
        .into_iter()
        .find(|c| c["channel"] == "sms")
        .unwrap()
}

async fn an_sms_is_delivered_through_each_provider_and_its_report_recorded(backend: Backend) {
    for provider in Provider::ALL {
        let fake = FakeProvider::start(provider).await;
        let profile = provider.profile_file().trim_end_matches(".toml").to_owned();
        let app = app_with(backend, &fake).await;
        fake.auto_report(
            format!("{}/v1/receipts/{profile}", app.base),
            Report::Delivered,
        );
        let accepted: Value = app.post_intent(&visit()).await.json().await.unwrap();
        let id = accepted["id"].as_str().unwrap();
        let intent = app
            .wait_for(id, &format!("{profile}: delivered"), |i| {
                sms(i)["status"] == "delivered"
            })
            .await;
        let message = sms(&intent);
        assert_eq!(message["gateway"], format!("sms:{profile}"));
        let received = fake.received();
        assert_eq!(received.len(), 1, "{profile}: sent once");
        assert_eq!(
            message["gateway_message_id"],
            received[0].provider_id.as_str()
        );
        assert!(
            received[0].text.contains("Соколова"),
            "{profile}: the rendered notice went out: {}",
            received[0].text
        );
        assert!(message["delivered_at"].is_string());
        // The delivered SMS was the legal notice: the held email is cancelled, not sent.
        let done = app
            .wait_for(id, "cancelled the email", |i| {
                i["status_counts"] == json!({"delivered": 1, "cancelled": 1})
            })
            .await;
        let email = common::messages(&done)
            .into_iter()
            .find(|c| c["channel"] == "email")
            .unwrap()
            .clone();
        assert_eq!(email["status"], "cancelled", "{profile}: {email}");
        assert_eq!(email["attempts"], 0, "never sent");
        app.stop().await;
    }
}

async fn forged_duplicate_early_and_unknown_reports_are_handled(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let app = app_with(backend, &fake).await;
    let url = format!("{}/v1/receipts/generic-json", app.base);
    let Sent {
        id,
        message_id,
        provider_id,
    } = sent_visit(&app).await;
    let id = id.as_str();

    for signing in [Signing::Missing, Signing::Wrong] {
        let status = fake
            .report_signed(&url, &provider_id, Report::Delivered, signing)
            .await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        app.db.receipt_count(&message_id).await.unwrap(),
        0,
        "a forged report records nothing"
    );
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(sms(&intent)["status"], "sent");

    assert_eq!(
        fake.report(&url, &provider_id, Report::Delivered).await,
        200
    );
    assert_eq!(
        fake.report(&url, &provider_id, Report::Delivered).await,
        200
    );
    assert_eq!(
        app.db.receipt_count(&message_id).await.unwrap(),
        1,
        "the same report twice is one receipt"
    );
    // A late, different report is kept as evidence but does not undo `delivered`.
    assert_eq!(fake.report(&url, &provider_id, Report::Expired).await, 200);
    assert_eq!(app.db.receipt_count(&message_id).await.unwrap(), 2);
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(sms(&intent)["status"], "delivered");

    let started = std::time::Instant::now();
    assert_eq!(
        fake.report(&url, "no-such-message", Report::Delivered)
            .await,
        404
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "an unknown id is retried briefly first"
    );
    let r = app
        .http
        .post(format!("{}/v1/receipts/nosuchprofile", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    app.stop().await;
}

async fn provider_faults_are_retried_or_failed_and_escalate(backend: Backend) {
    let fake = FakeProvider::start(Provider::SmsRu).await;
    let app = app_with(backend, &fake).await;
    // Two transient faults (HTTP 500, then a malformed answer), then acceptance.
    fake.fail_next(1, Fault::Http500);
    fake.fail_next(1, Fault::Malformed);
    let accepted: Value = app.post_intent(&visit()).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "sent after retries", |i| sms(i)["status"] == "sent")
        .await;
    assert_eq!(sms(&intent)["attempts"], 3, "{}", sms(&intent));
    assert_eq!(fake.received().len(), 1, "accepted once");

    // A permanent refusal fails the SMS at once, and the email (next legal step) takes over.
    fake.fail_next(1, Fault::Permanent);
    let mut body = visit();
    body["external_id"] = json!("visit-permanent");
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "escalated to email", |i| {
            common::messages(i)
                .iter()
                .any(|c| c["channel"] == "email" && c["status"] == "sent")
        })
        .await;
    assert_eq!(sms(&intent)["status"], "failed");
    assert_eq!(
        sms(&intent)["attempts"],
        1,
        "a permanent error is not retried"
    );
    app.stop().await;
}

async fn an_sms_without_a_report_for_72_hours_becomes_unconfirmed(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    // Monday 1 March 2027, 12:00 in Novosibirsk: inside every window.
    let clock = vestnik::clock::Clock::fake(
        chrono::DateTime::parse_from_rfc3339("2027-03-01T05:00:00Z")
            .unwrap()
            .into(),
    );
    let wire = fake.wiring();
    let app = spawn_app_clocked(backend, clock.clone(), move |s| {
        wire(s);
        s.dispatch.lease_secs = 2;
    })
    .await;
    let Sent {
        id, provider_id, ..
    } = sent_visit(&app).await;
    let id = id.as_str();

    clock.set(clock.now() + chrono::Duration::hours(71));
    tokio::time::sleep(Duration::from_millis(1200)).await; // two sweeps
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(
        sms(&intent)["status"],
        "sent",
        "71 h: still waiting for the report"
    );

    clock.set(clock.now() + chrono::Duration::hours(2));
    let intent = app
        .wait_for(id, "unconfirmed", |i| sms(i)["status"] == "unconfirmed")
        .await;
    assert_eq!(
        sms(&intent)["reason"],
        "no delivery report from the gateway"
    );
    // A report that finally arrives still counts.
    let url = format!("{}/v1/receipts/generic-json", app.base);
    assert_eq!(
        fake.report(&url, &provider_id, Report::Delivered).await,
        200
    );
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(sms(&intent)["status"], "delivered");
    app.stop().await;
}

async fn a_status_poll_finds_the_delivery_a_lost_webhook_did_not_bring(backend: Backend) {
    for provider in [Provider::SmsRu, Provider::Smsc, Provider::SmsAero] {
        let fake = FakeProvider::start(provider).await;
        let wire = fake.wiring();
        let app = spawn_app_with(backend, move |s| {
            wire(s);
            s.sms.poll_every = Duration::from_millis(300);
            s.dispatch.lease_secs = 2;
        })
        .await;
        let Sent {
            id, provider_id, ..
        } = sent_visit(&app).await;
        let id = id.as_str();
        // The provider delivers; its webhook goes nowhere (a closed port).
        fake.report("http://127.0.0.1:1/lost", &provider_id, Report::Delivered)
            .await;
        let intent = app
            .wait_for(id, "delivered by poll", |i| sms(i)["status"] == "delivered")
            .await;
        let message_id = sms(&intent)["message_id"].as_str().unwrap();
        assert_eq!(
            app.db.receipt_count(message_id).await.unwrap(),
            1,
            "{provider:?}"
        );
        app.stop().await;
    }
}

/// Unsent messages are left out of the gateway indexes (they have no gateway yet); a
/// report's lookup names its gateway, which implies NOT NULL, so the planner may still use
/// an index. On PostgreSQL the plan is the generic one a prepared statement gets, with
/// sequential scans priced out so that the small table does not hide an unusable index.
async fn a_report_finds_its_message_through_the_partial_gateway_index(backend: Backend) {
    let app = common::spawn_app(backend).await;
    let plan: Vec<String> = match &app.db {
        vestnik::storage::Db::Sqlite(pool) => sqlx::query_as::<_, (i64, i64, i64, String)>(
            "EXPLAIN QUERY PLAN SELECT id, intent_id, legal_step FROM messages \
             WHERE gateway = $1 AND gateway_message_id = $2",
        )
        .bind("smsc")
        .bind("42")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.3)
        .collect(),
        vestnik::storage::Db::Postgres(pool) => {
            let mut conn = pool.acquire().await.unwrap();
            for setup in [
                "SET enable_seqscan = off",
                "SET plan_cache_mode = force_generic_plan",
                "PREPARE lookup(text, text) AS SELECT id, intent_id, legal_step FROM messages \
                 WHERE gateway = $1 AND gateway_message_id = $2",
            ] {
                sqlx::raw_sql(setup).execute(&mut *conn).await.unwrap();
            }
            let plan = sqlx::query_scalar::<_, String>("EXPLAIN EXECUTE lookup('smsc', '42')")
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            plan
        }
    };
    // Either gateway index serves (on an empty table PostgreSQL may price them alike).
    assert!(
        plan.iter()
            .any(|line| line.contains("USING INDEX messages_by_gateway_")
                || line.contains("using messages_by_gateway_")),
        "{plan:?}"
    );
    app.stop().await;
}

/// Reports that arrive together are recorded in shared transactions (group commit): each
/// still gets its own answer, a report repeated meanwhile is kept once, each delivered
/// legal SMS ends its own chain, and the ledger's chain holds.
async fn reports_arriving_together_each_get_their_own_answer(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let app = app_with(backend, &fake).await;
    let url = format!("{}/v1/receipts/generic-json", app.base);
    let n = 40;
    let id = app.accept(&common::meter_visits(n)).await;
    let intent = app
        .wait_for(&id, "every SMS sent", |i| {
            let sms = common::sms_messages(i);
            sms.len() == n && sms.iter().all(|m| m["status"] == "sent")
        })
        .await;
    let sms = common::sms_messages(&intent);
    let provider_ids: Vec<&str> = sms
        .iter()
        .map(|m| m["gateway_message_id"].as_str().unwrap())
        .collect();
    // Every report once and the first ten three times, all at the same time.
    let reports = provider_ids
        .iter()
        .chain(&provider_ids[..10])
        .chain(&provider_ids[..10]);
    let answers =
        futures::future::join_all(reports.map(|p| fake.report(&url, p, Report::Delivered))).await;
    assert!(answers.iter().all(|&s| s == 200), "{answers:?}");
    // 60 reports went through the committer, in fewer transactions than reports.
    let metrics = app.metrics().await;
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert_eq!(metric("vestnik_receipt_group_size_sum"), 60.0);
    let transactions = metric("vestnik_receipt_group_size_count");
    assert!(
        transactions < 60.0,
        "60 reports at once took {transactions} transactions"
    );
    for m in &sms {
        let message_id = m["message_id"].as_str().unwrap();
        assert_eq!(app.db.receipt_count(message_id).await.unwrap(), 1);
    }
    app.wait_for(
        &id,
        "every SMS delivered, every held email cancelled",
        |i| i["status_counts"] == json!({"delivered": n, "cancelled": n}),
    )
    .await;
    assert_eq!(app.db.verify_ledger().await.unwrap().1, None);
    app.stop().await;
}

/// One committer group with several reports for the same message: each message gets its
/// first final report, later ones are kept but not applied, an exact repeat is a
/// duplicate, and only a delivered legal notice ends its recipient's chain.
async fn one_group_applies_each_messages_first_final_report(backend: Backend) {
    use vestnik::storage::{NewReceipt, ReceiptOutcome};
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let app = app_with(backend, &fake).await;
    let id = app.accept(&common::meter_visits(3)).await;
    let intent = app
        .wait_for(&id, "every SMS sent", |i| {
            let sms = common::sms_messages(i);
            sms.len() == 3 && sms.iter().all(|m| m["status"] == "sent")
        })
        .await;
    let sms = common::sms_messages(&intent);
    let gateway = sms[0]["gateway"].as_str().unwrap().to_owned();
    let provider: Vec<String> = sms
        .iter()
        .map(|m| m["gateway_message_id"].as_str().unwrap().to_owned())
        .collect();
    let report = |i: usize, status: &'static str, provider_status: &'static str| NewReceipt {
        gateway: &gateway,
        provider_message_id: &provider[i],
        status,
        provider_status,
        provider_time: None,
        raw: "{}",
        reason: None,
        evidence_sha256: None,
        retry_at: 0,
        max_attempts: 8,
        batch: 100,
    };
    let mut group = Vec::new();
    for (i, status, provider_status) in [
        (0, "pending", "ACCEPTD"),
        (1, "failed", "UNDELIV"),
        (0, "delivered", "DELIVRD"),
        (0, "failed", "UNDELIV"),
        (1, "delivered", "DELIVRD"),
        (0, "delivered", "DELIVRD"),
        (2, "delivered", "DELIVRD"),
    ] {
        let receipt = report(i, status, provider_status);
        let message = app
            .db
            .receipt_message(&gateway, &provider[i])
            .await
            .unwrap()
            .unwrap();
        group.push((receipt, message));
    }
    let outcomes = app.db.record_receipts(&group).await.unwrap();
    let applied: Vec<Option<bool>> = outcomes
        .iter()
        .map(|o| match o {
            ReceiptOutcome::Recorded { applied, .. } => Some(*applied),
            _ => None,
        })
        .collect();
    assert_eq!(
        applied,
        [
            Some(false), // pending: not final
            Some(true),  // the first final report of message 1
            Some(true),  // the first final report of message 0
            Some(false), // too late: 0 is delivered
            Some(false), // too late: 1 has failed
            None,        // the same report as the third: a duplicate
            Some(true),
        ]
    );
    // A delivered legal notice reports its channel and time to the deadline.
    for i in [2, 6] {
        let ReceiptOutcome::Recorded {
            deadline_margin: Some((channel, margin)),
            ..
        } = &outcomes[i]
        else {
            panic!("no deadline margin: {:?}", outcomes[i]);
        };
        assert_eq!(channel, "sms");
        assert!(*margin > 0, "{margin}");
    }
    let intent = app.wait_settled(&id).await;
    let message = |i: usize, channel: &str| common::channel(&intent, i, channel).clone();
    let status = |i: usize, channel: &str| message(i, channel)["status"].clone();
    assert_eq!(
        message(1, "sms")["reason"],
        "gateway reported failed (UNDELIV)"
    );
    assert_eq!(message(0, "sms")["reason"], Value::Null);
    assert_eq!(status(0, "sms"), "delivered");
    assert_eq!(status(1, "sms"), "failed");
    assert_eq!(status(2, "sms"), "delivered");
    assert_eq!(
        status(0, "email"),
        "cancelled",
        "a delivered SMS ends the chain"
    );
    assert_eq!(status(2, "email"), "cancelled");
    assert_ne!(status(1, "email"), "cancelled", "a failed one does not");
    let kept = |i: usize| app.db.receipt_count(sms[i]["message_id"].as_str().unwrap());
    assert_eq!(kept(0).await.unwrap(), 3, "pending, delivered, failed");
    assert_eq!(kept(1).await.unwrap(), 2);
    assert_eq!(app.db.verify_ledger().await.unwrap().1, None);
    app.stop().await;
}

/// A message whose claims end with no outcome (its worker killed, or an error after the
/// claim) is not claimed forever: past `dispatch.max_lost_claims` it fails, unsent.
async fn a_message_whose_claims_keep_ending_without_an_outcome_is_failed(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let app = app_with(backend, &fake).await;
    let Sent { id, message_id, .. } = sent_visit(&app).await;
    let id = id.as_str();
    assert_eq!(fake.requests(), 1);

    // As a worker leaves it that claimed it after 20 claims lost (max_lost_claims) and died.
    let sql =
        "UPDATE messages SET status = 'sending', lease_until = 0, lost_claims = 20 WHERE id = $1";
    execute(&app.db, sql, &message_id).await;
    let intent = app
        .wait_for(id, "failed", |i| sms(i)["status"] == "failed")
        .await;
    let reason = sms(&intent)["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("gave up after 21 claims"), "{intent}");
    assert_eq!(fake.requests(), 1, "not sent again");
    app.stop().await;
}

/// `sql` with `$1` bound to `id`, on whichever backend the app runs.
async fn execute(db: &vestnik::storage::Db, sql: &'static str, id: &str) {
    match db {
        vestnik::storage::Db::Sqlite(pool) => {
            sqlx::query(sql).bind(id).execute(pool).await.unwrap();
        }
        vestnik::storage::Db::Postgres(pool) => {
            sqlx::query(sql).bind(id).execute(pool).await.unwrap();
        }
    }
}

/// A final report names the provider's id of one attempt. While a newer attempt of the
/// message is in flight (its id not yet recorded), a late "failed" about the earlier one
/// is kept as a receipt but does not fail the message.
async fn a_late_report_about_an_earlier_attempt_leaves_the_newer_one_alone(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let app = app_with(backend, &fake).await;
    let url = format!("{}/v1/receipts/generic-json", app.base);
    let Sent {
        id,
        message_id,
        provider_id: first_attempt,
    } = sent_visit(&app).await;
    let id = id.as_str();

    // A second attempt in flight: claimed (a long lease), the first attempt's id still on it.
    let sql = "UPDATE messages SET status = 'sending', lease_until = 9000000000000 WHERE id = $1";
    execute(&app.db, sql, &message_id).await;
    assert_eq!(fake.report(&url, &first_attempt, Report::Failed).await, 200);
    assert_eq!(app.db.receipt_count(&message_id).await.unwrap(), 1, "kept");
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(sms(&intent)["status"], "sending", "{intent}");
    app.stop().await;
}

/// The provider has the SMS, but the write of its outcome fails for a moment (a trigger
/// stands in for a database blip). The worker writes it again while it still holds the
/// lease: the SMS is recorded sent, once, and is not sent a second time when a lease would
/// have run out.
async fn a_failed_outcome_write_is_tried_again_not_sent_again(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let app = app_with(backend, &fake).await;
    let (blip_on, blip_off): (&[&str], &[&str]) = match backend {
        Backend::Sqlite => (
            &[
                "CREATE TABLE blip (on_ INTEGER)",
                "INSERT INTO blip VALUES (1)",
                "CREATE TRIGGER blip BEFORE UPDATE OF status ON messages \
                 WHEN NEW.status = 'sent' AND EXISTS (SELECT 1 FROM blip) \
                 BEGIN SELECT RAISE(ABORT, 'blip'); END",
            ],
            &["DELETE FROM blip"],
        ),
        Backend::Postgres => (
            &[
                "CREATE TABLE blip (on_ integer)",
                "INSERT INTO blip VALUES (1)",
                "CREATE FUNCTION blip() RETURNS trigger AS $$ BEGIN \
                 IF EXISTS (SELECT 1 FROM blip) THEN RAISE EXCEPTION 'blip'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER blip BEFORE UPDATE ON messages FOR EACH ROW \
                 WHEN (NEW.status = 'sent') EXECUTE FUNCTION blip()",
            ],
            &["DELETE FROM blip"],
        ),
    };
    for sql in blip_on {
        execute_plain(&app.db, sql).await;
    }
    let accepted: Value = app.post_intent(&visit()).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    let handed_over = std::time::Instant::now();
    while fake.requests() == 0 {
        assert!(
            handed_over.elapsed() < Duration::from_secs(30),
            "never sent"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The first write failed; the next tries come 0.25 s and 0.75 s after it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(
        sms(&intent)["status"],
        "sending",
        "the write failed: {intent}"
    );
    for sql in blip_off {
        execute_plain(&app.db, sql).await;
    }
    app.wait_for(&id, "sent", |i| sms(i)["status"] == "sent")
        .await;
    // Longer than the 2 s lease: had the job given up, the sweep would send it again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(sms(&intent)["status"], "sent", "{intent}");
    assert_eq!(sms(&intent)["attempts"], 1, "{intent}");
    assert_eq!(fake.requests(), 1, "sent once");
    app.stop().await;
}

async fn execute_plain(db: &vestnik::storage::Db, sql: &'static str) {
    match db {
        vestnik::storage::Db::Sqlite(pool) => {
            sqlx::raw_sql(sql).execute(pool).await.unwrap();
        }
        vestnik::storage::Db::Postgres(pool) => {
            sqlx::raw_sql(sql).execute(pool).await.unwrap();
        }
    }
}
