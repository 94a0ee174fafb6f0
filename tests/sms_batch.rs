//! SMS in batches (`sms.batch_size`, the generic JSON profile's `[send_batch]` and SMS.ru's
//! bulk form): many messages per request to the provider's fake on loopback, each outcome
//! recorded on its own message, a batch whose answer is lost resent without a second SMS,
//! and two messages to one number never in one request answered by number.

mod common;

use common::fake_sms::{FakeProvider, Fault, Provider};
use common::{Backend, TestApp, meter_visits, sms_messages, spawn_app_with};
use serde_json::Value;

both_backends! {
    sms_go_out_in_batches_and_each_outcome_is_its_own;
    a_batch_whose_answer_is_lost_is_resent_without_a_second_sms;
    a_batch_is_never_larger_than_the_shared_rate_limit_can_count;
    sms_ru_answers_a_batch_by_number_and_one_number_goes_once_per_request;
}

async fn app_with(
    backend: Backend,
    fake: &FakeProvider,
    profiles: &tempfile::TempDir,
    batch_size: usize,
) -> TestApp {
    let wire = fake.wiring();
    let profiles = profiles.path().join("channels");
    spawn_app_with(backend, move |s| {
        wire(s);
        s.sms.profiles_dir = profiles;
        s.sms.batch_size = batch_size;
        s.dispatch.lease_secs = 2;
        s.dispatch.backoff_base_ms = 50;
    })
    .await
}

/// The shipped profiles with their rate raised: at generic-json's shipped 50/s the rate
/// limit caps a batch at 4 messages on PostgreSQL (the shared limit's slot).
fn fast_profiles() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::profiles_with_limit(dir.path(), "rate_per_sec", 10_000);
    dir
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// The intent once each of its SMS is sent or failed.
async fn every_sms_settled(app: &TestApp, id: &str) -> Value {
    app.wait_for(id, "every SMS settled", |i| {
        sms_messages(i)
            .iter()
            .all(|m| m["status"] == "sent" || m["status"] == "failed")
    })
    .await
}

/// Each message carries the provider id of its own answer in the batch, not a neighbour's.
fn each_holds_its_own_answer(messages: &[Value], received: &[common::fake_sms::Received]) {
    let by_client: std::collections::HashMap<&str, &str> = received
        .iter()
        .map(|r| (r.client_id.as_deref().unwrap(), r.provider_id.as_str()))
        .collect();
    for m in messages {
        assert_eq!(
            m["gateway_message_id"].as_str(),
            by_client.get(m["message_id"].as_str().unwrap()).copied(),
            "{m}"
        );
    }
}

async fn sms_go_out_in_batches_and_each_outcome_is_its_own(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let profiles = fast_profiles();
    let app = app_with(backend, &fake, &profiles, 100).await;
    // The first message of the first batch is refused for its number; the rest go.
    fake.fail_next(1, Fault::Permanent);
    let id = app.accept(&meter_visits(250)).await;
    let intent = every_sms_settled(&app, &id).await;
    let sms = sms_messages(&intent);
    assert_eq!(sms.len(), 250);

    let mut batches = fake.batches();
    batches.sort_unstable();
    assert_eq!(batches, vec![50, 100, 100], "250 SMS in three requests");
    let failed: Vec<&Value> = sms.iter().filter(|m| m["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "only the refused number failed");
    assert!(
        failed[0]["reason"]
            .as_str()
            .is_some_and(|e| e.contains("invalid_number")),
        "{}",
        failed[0]
    );
    let received = fake.received();
    assert_eq!(received.len(), 249);
    let sent: Vec<Value> = sms
        .iter()
        .filter(|m| m["status"] == "sent")
        .cloned()
        .collect();
    each_holds_its_own_answer(&sent, &received);
    for m in &sent {
        assert_eq!(m["attempts"], 1, "{m}");
        assert_eq!(m["gateway"], "sms:generic-json");
    }
    assert!(fake.repeats().is_empty());
    app.stop().await;
}

async fn a_batch_whose_answer_is_lost_is_resent_without_a_second_sms(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let profiles = fast_profiles();
    let app = app_with(backend, &fake, &profiles, 100).await;
    // The provider takes the first batch but its answer is garbage: nothing tells us
    // which messages it holds, so the whole batch is sent again.
    fake.fail_next(1, Fault::Malformed);
    let id = app.accept(&meter_visits(150)).await;
    let intent = app
        .wait_for(&id, "every SMS sent", |i| {
            sms_messages(i).iter().all(|m| m["status"] == "sent")
        })
        .await;
    let sms = sms_messages(&intent);
    assert_eq!(sms.len(), 150);

    let batches = fake.batches();
    assert_eq!(batches.len(), 3, "two batches and the resend: {batches:?}");
    let first = batches[0];
    // Every recipient got one SMS: the resend's client ids were known, answered with the
    // first ids and not sent again.
    let received = fake.received();
    assert_eq!(received.len(), 150);
    let phones: std::collections::HashSet<&str> = received.iter().map(|r| r.to.as_str()).collect();
    assert_eq!(phones.len(), 150);
    let repeats = fake.repeats();
    assert_eq!(repeats.len(), first, "the lost batch came back once, whole");
    let resent: Vec<&Value> = sms.iter().filter(|m| m["attempts"] == 2).collect();
    assert_eq!(resent.len(), first);
    each_holds_its_own_answer(&sms, &received);
    app.stop().await;
}

async fn a_batch_is_never_larger_than_the_shared_rate_limit_can_count(backend: Backend) {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    // The shipped profile: 50 SMS/s. On PostgreSQL the limit is shared by every worker
    // and granted a slot's worth (4) at a time, so no batch may carry more; on SQLite the
    // process's own limiter paces whole batches.
    let wire = fake.wiring();
    let app = spawn_app_with(backend, move |s| {
        wire(s);
        s.sms.batch_size = 100;
    })
    .await;
    let id = app.accept(&meter_visits(40)).await;
    app.wait_for(&id, "every SMS sent", |i| {
        sms_messages(i).iter().all(|m| m["status"] == "sent")
    })
    .await;
    let batches = fake.batches();
    let largest = match backend {
        Backend::Postgres => 4,
        Backend::Sqlite => 40,
    };
    assert_eq!(batches.iter().sum::<usize>(), 40, "{batches:?}");
    assert!(
        batches.iter().all(|&b| b <= largest),
        "{backend:?}: {batches:?}"
    );
    assert!(batches.contains(&largest), "{backend:?}: {batches:?}");
    app.stop().await;
}

async fn sms_ru_answers_a_batch_by_number_and_one_number_goes_once_per_request(backend: Backend) {
    let fake = FakeProvider::start(Provider::SmsRu).await;
    let profiles = fast_profiles();
    let app = app_with(backend, &fake, &profiles, 100).await;
    // Three accounts share one number: SMS.ru answers by number, so each of the three
    // must go in a request of its own (the fake refuses a request naming a number twice).
    let mut body = meter_visits(150);
    let shared = body["recipients"][10]["contacts"]["phone"].clone();
    for i in [11, 12] {
        body["recipients"][i]["contacts"]["phone"] = shared.clone();
    }
    let phone_of = |idx: &Value| {
        let i = idx.as_u64().unwrap() as usize;
        digits(body["recipients"][i]["contacts"]["phone"].as_str().unwrap())
    };
    // The first number of the first request is refused; the rest go.
    fake.fail_next(1, Fault::Permanent);
    let id = app.accept(&body).await;
    let intent = every_sms_settled(&app, &id).await;

    // 100 and 49 in bulk requests; the third message to the shared number goes alone, as
    // a single send.
    let mut batches = fake.batches();
    batches.sort_unstable();
    assert_eq!(batches, vec![49, 100]);
    let received = fake.received();
    assert_eq!(received.len(), 149);
    let by_provider_id: std::collections::HashMap<&str, &str> = received
        .iter()
        .map(|r| (r.provider_id.as_str(), r.to.as_str()))
        .collect();
    let mut failed = Vec::new();
    for r in intent["recipients"].as_array().unwrap() {
        let phone = phone_of(&r["recipient_id"]);
        for m in r["channels"].as_array().unwrap() {
            if m["channel"] != "sms" {
                continue;
            }
            // Sent once, in a request SMS.ru took whole: no retry, no request refused.
            assert_eq!(m["attempts"], 1, "{m}");
            assert_eq!(m["gateway"], "sms:smsru");
            if m["status"] == "failed" {
                failed.push((m.clone(), phone.clone()));
                continue;
            }
            // The id recorded is the one SMS.ru gave this message's own number.
            let to = by_provider_id[m["gateway_message_id"].as_str().unwrap()];
            assert_eq!(digits(to), phone, "{m}");
        }
    }
    assert_eq!(failed.len(), 1, "only the refused number failed");
    let (refused, refused_phone) = &failed[0];
    assert!(
        refused["reason"]
            .as_str()
            .is_some_and(|e| e.contains("207")),
        "{refused}"
    );
    // The shared number got one SMS per account (less the refused one, were it its).
    let shared = digits(shared.as_str().unwrap());
    let to_shared = received.iter().filter(|r| digits(&r.to) == shared).count();
    assert_eq!(to_shared, 3 - usize::from(*refused_phone == shared));
    app.stop().await;
}
