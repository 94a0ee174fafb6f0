//! Each shipped profile against the fake of its provider on loopback: send, faults,
//! webhooks (valid, unsigned, forged) and polling.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::fake_sms::{FakeProvider, Fault, Provider, Report, Signing};
use vestnik::channels::profiles::{
    DeliveryStatus, HttpRequest, LoadOptions, PollOutcome, PollQuery, Profile, Receipt,
    SendOutcome, SmsMessage,
};

const ID: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const MSG: SmsMessage<'static> = SmsMessage {
    message_id: ID,
    to: "+79161234567",
    text: "Плановое отключение 12.03 с 10:00 до 14:00 {ул. Ленина, 5}",
    sender: Some("Energo"),
};

fn profile(fake: &FakeProvider, callback_url: Option<String>) -> Profile {
    let path = format!(
        "{}/channels/{}",
        env!("CARGO_MANIFEST_DIR"),
        fake.provider.profile_file()
    );
    let text = std::fs::read_to_string(&path).expect("profile file");
    let options = LoadOptions {
        secrets: fake.secrets(),
        base_url: Some(fake.base_url.clone()),
        callback_url,
    };
    Profile::load(&path, &text, &options).unwrap_or_else(|e| panic!("{e}"))
}

async fn execute(req: &HttpRequest, timeout: Duration) -> Result<(u16, Vec<u8>), reqwest::Error> {
    let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes()).expect("method");
    let mut builder = {
        vestnik::channels::install_crypto_provider();
        reqwest::Client::new()
    }
    .request(method, &req.url)
    .timeout(timeout);
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    let response = builder.body(req.body.clone()).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?.to_vec()))
}

async fn send(p: &Profile) -> SendOutcome {
    let req = p.build_send(MSG).expect("request");
    match execute(&req, Duration::from_millis(p.limits().timeout_ms)).await {
        Ok((status, body)) => p.classify_send(MSG, status, &body),
        Err(e) => SendOutcome::Transient(format!("{e}")),
    }
}

async fn poll(p: &Profile, provider_id: &str) -> PollOutcome {
    let q = PollQuery {
        provider_message_id: provider_id,
        to: MSG.to,
    };
    let (status, body) = execute(&p.build_poll(&q).expect("poll"), Duration::from_secs(5))
        .await
        .expect("poll answer");
    p.parse_poll(&q, status, &body)
}

type Receipts = Arc<Mutex<Vec<Receipt>>>;

/// A stand-in for `POST /v1/receipts/{profile}`: verify, parse, record, reply.
async fn receiver(p: Profile) -> (String, Receipts) {
    async fn hook(
        State((p, got)): State<(Profile, Receipts)>,
        RawQuery(query): RawQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        if p.verify_webhook(query.as_deref(), &headers, &body).is_err() {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        match p.parse_webhook(&body) {
            Ok(receipts) => got.lock().unwrap().extend(receipts),
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
        let reply = p.webhook_reply();
        (
            StatusCode::from_u16(reply.status).unwrap(),
            [("content-type", reply.content_type)],
            reply.body,
        )
            .into_response()
    }
    let got: Receipts = Arc::default();
    let app = axum::Router::new()
        .route("/v1/receipts/{name}", axum::routing::post(hook))
        .with_state((p.clone(), got.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/receipts/{}",
        listener.local_addr().unwrap(),
        p.name()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn accepted(outcome: SendOutcome) -> String {
    match outcome {
        SendOutcome::Accepted {
            provider_message_id,
            ..
        } => provider_message_id,
        other => panic!("not accepted: {other:?}"),
    }
}

#[tokio::test]
async fn every_profile_sends_reports_and_polls_against_its_fake() {
    for provider in Provider::ALL {
        let fake = FakeProvider::start(provider).await;
        let p0 = profile(&fake, None);
        let (url, got) = receiver(p0).await;
        let p = profile(&fake, Some(url.clone()));

        let id = accepted(send(&p).await);
        let received = fake.received();
        assert_eq!(received.len(), 1, "{provider:?}");
        assert_eq!(received[0].provider_id, id);
        assert_eq!(received[0].text, MSG.text, "{provider:?}");
        assert!(received[0].to.ends_with("79161234567"), "{provider:?}");
        assert_eq!(
            received[0].sender.as_deref(),
            Some("Energo"),
            "{provider:?}"
        );
        if matches!(provider, Provider::Smsc | Provider::GenericJson) {
            assert_eq!(
                received[0].client_id.as_deref(),
                Some(ID),
                "{provider:?} passes our id"
            );
        }
        if provider == Provider::SmsAero {
            assert!(
                received[0]
                    .callback_url
                    .as_deref()
                    .unwrap()
                    .starts_with(&url)
            );
        }

        let PollOutcome::Status(r) = poll(&p, &id).await else {
            panic!("{provider:?}")
        };
        assert_eq!(r.status, DeliveryStatus::Pending, "{provider:?}");

        for signing in [Signing::Missing, Signing::Wrong] {
            assert_eq!(
                fake.report_signed(&url, &id, Report::Delivered, signing)
                    .await,
                401,
                "{provider:?} {signing:?}"
            );
        }
        assert!(
            got.lock().unwrap().is_empty(),
            "{provider:?}: a forged report was recorded"
        );

        assert_eq!(
            fake.report(&url, &id, Report::Delivered).await,
            200,
            "{provider:?}"
        );
        let receipts = got.lock().unwrap().clone();
        assert_eq!(receipts.len(), 1, "{provider:?}");
        assert_eq!(
            (receipts[0].provider_message_id.as_str(), receipts[0].status),
            (id.as_str(), DeliveryStatus::Delivered)
        );
        assert!(receipts[0].provider_time.is_some(), "{provider:?}");

        let PollOutcome::Status(r) = poll(&p, &id).await else {
            panic!("{provider:?}")
        };
        assert_eq!(r.status, DeliveryStatus::Delivered, "{provider:?}");
        fake.report(&url, &id, Report::Expired).await;
        let PollOutcome::Status(r) = poll(&p, &id).await else {
            panic!("{provider:?}")
        };
        let expected = if provider == Provider::SmsAero {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Expired
        };
        assert_eq!(r.status, expected, "{provider:?}");
    }
}

#[tokio::test]
async fn faults_classify_as_transient_or_permanent() {
    for provider in Provider::ALL {
        let fake = FakeProvider::start(provider).await;
        let p = profile(&fake, None);
        for (fault, transient) in [
            (Fault::Http500, true),
            (Fault::Malformed, true),
            (Fault::Busy, true),
            (Fault::Permanent, false),
        ] {
            fake.fail_next(1, fault.clone());
            let outcome = send(&p).await;
            let ok = if transient {
                matches!(outcome, SendOutcome::Transient(_))
            } else {
                matches!(outcome, SendOutcome::Permanent(_))
            };
            assert!(ok, "{provider:?} {fault:?}: {outcome:?}");
        }
        assert!(
            fake.received().is_empty(),
            "{provider:?}: a failed send was recorded"
        );
        accepted(send(&p).await);
        assert_eq!(fake.requests(), 5);
    }
}

#[tokio::test]
async fn slow_gateway_times_out_and_silent_one_never_reports() {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let p = profile(&fake, None);
    fake.fail_next(1, Fault::Slow(Duration::from_millis(800)));
    let req = p.build_send(MSG).unwrap();
    assert!(
        execute(&req, Duration::from_millis(200))
            .await
            .unwrap_err()
            .is_timeout()
    );

    let (url, got) = receiver(p.clone()).await;
    fake.auto_report(url, Report::Delivered);
    fake.fail_next(1, Fault::Silent);
    let silent = accepted(send(&p).await);
    let other = SmsMessage {
        message_id: "0190a1b2-c3d4-7e5f-8a9b-000000000002",
        ..MSG
    };
    let req = p.build_send(other).unwrap();
    let (status, body) = execute(&req, Duration::from_secs(5)).await.unwrap();
    let reported = accepted(p.classify_send(other, status, &body));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.provider_message_id.clone())
        .collect();
    assert_eq!(ids, vec![reported]);
    let PollOutcome::Status(r) = poll(&p, &silent).await else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Pending);
}

#[tokio::test]
async fn generic_client_id_makes_a_resend_idempotent() {
    let fake = FakeProvider::start(Provider::GenericJson).await;
    let p = profile(&fake, None);
    let first = accepted(send(&p).await);
    let second = accepted(send(&p).await);
    assert_eq!(first, second);
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_rejected_by_every_fake() {
    for provider in Provider::ALL {
        let fake = FakeProvider::start(provider).await;
        let path = format!(
            "{}/channels/{}",
            env!("CARGO_MANIFEST_DIR"),
            provider.profile_file()
        );
        let mut secrets = fake.secrets();
        for v in secrets.values_mut() {
            if !v.contains("webhook") && !v.contains("hmac") {
                v.push_str("-wrong");
            }
        }
        let options = LoadOptions {
            secrets,
            base_url: Some(fake.base_url.clone()),
            callback_url: None,
        };
        let p = Profile::load(&path, &std::fs::read_to_string(&path).unwrap(), &options).unwrap();
        let outcome = send(&p).await;
        assert!(
            !matches!(outcome, SendOutcome::Accepted { .. }),
            "{provider:?}: {outcome:?}"
        );
        assert!(fake.received().is_empty());
    }
}
