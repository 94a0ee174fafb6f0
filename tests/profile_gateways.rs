//! The mail and fax profiles through `ProfileGateway` against their fakes on loopback:
//! sends (with the PDF, the tracking number verified), faults, every tracking event and fax
//! result as receipts, forged webhooks, and polling.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::fake_fax::{self, FakeFax, FaxFault, FaxResult};
use common::fake_mail::{self, FakeMail, MailEvent, MailFault};
use vestnik::channels::SendResult;
use vestnik::channels::profiles::{
    DeliveryStatus, Document, FaxMessage, Kind, LoadOptions, MailMessage, PollOutcome, Postal,
    Profile, ProfileGateway, RETURNED_UNCLAIMED_REASON, Receipt, SendOutcome,
    parse_tracking_number,
};

/// A two-page PDF (enough structure for page counting; not rendered by anyone).
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n\
3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n\
4 0 obj << /Type /Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn letter(message_id: &str) -> MailMessage<'_> {
    MailMessage {
        message_id,
        recipient: Postal {
            name: "Петров Пётр Петрович",
            postcode: "190000",
            address: "г. Санкт-Петербург, ул. Большая Морская, д. 61, кв. 7",
        },
        document: Document { pdf: PDF, pages: 2 },
        sender: None,
    }
}

fn fax<'a>(message_id: &'a str, to: &'static str) -> FaxMessage<'a> {
    FaxMessage {
        message_id,
        to,
        document: Document { pdf: PDF, pages: 2 },
        sender: None,
    }
}

fn load(
    file: &str,
    secrets: std::collections::HashMap<String, String>,
    base_url: &str,
    callback_url: &str,
) -> Profile {
    let path = format!("{}/channels/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("profile file");
    let options = LoadOptions {
        secrets,
        base_url: Some(base_url.to_owned()),
        callback_url: Some(callback_url.to_owned()),
    };
    Profile::load(&path, &text, &options).unwrap_or_else(|e| panic!("{e}"))
}

type Receipts = Arc<Mutex<Vec<Receipt>>>;

/// A stand-in for `POST /v1/receipts/{profile}` on a listener bound before the profile is
/// loaded (signing providers sign our URL, so the profile must know it).
struct Receiver {
    url: String,
    listener: tokio::net::TcpListener,
}

impl Receiver {
    async fn bind(name: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/v1/receipts/{name}",
            listener.local_addr().unwrap()
        );
        Receiver { url, listener }
    }

    fn serve(self, p: Profile) -> Receipts {
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
            (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response()
        }
        let got: Receipts = Arc::default();
        let app = axum::Router::new()
            .route("/v1/receipts/{name}", axum::routing::post(hook))
            .with_state((p, got.clone()));
        tokio::spawn(async move { axum::serve(self.listener, app).await.unwrap() });
        got
    }
}

fn accepted(outcome: SendOutcome) -> (String, Option<String>) {
    match outcome {
        SendOutcome::Accepted {
            provider_message_id,
            tracking_number,
        } => (provider_message_id, tracking_number),
        other => panic!("not accepted: {other:?}"),
    }
}

async fn wait_for(got: &Receipts, n: usize) -> Vec<Receipt> {
    for _ in 0..100 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn mail_letter_is_submitted_with_a_verified_tracking_number() {
    let fake = FakeMail::start().await;
    let rx = Receiver::bind("hybrid-mail").await;
    let p = load("hybrid-mail.toml", fake.secrets(), &fake.base_url, &rx.url);
    let gw = ProfileGateway::new(p.clone(), Some("АО «Энергосбыт»".into())).unwrap();
    assert_eq!((gw.kind(), gw.name()), (Kind::Mail, "mail:hybrid-mail"));

    let id = "0190a1b2-c3d4-7e5f-8a9b-000000000101";
    let (provider_id, tracking) = accepted(gw.send_outcome(letter(id)).await);
    let tracking = tracking.expect("a tracking number");
    assert!(parse_tracking_number(&tracking).is_ok(), "{tracking}");
    let got = fake.submissions();
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(
        (
            s.id.as_str(),
            s.client_id.as_str(),
            s.tracking_number.as_str()
        ),
        (provider_id.as_str(), id, tracking.as_str())
    );
    assert_eq!(s.pdf, PDF);
    assert_eq!(s.pages, 2);
    assert_eq!(s.service, "registered_with_receipt");
    assert_eq!(s.sender.as_deref(), Some("АО «Энергосбыт»"));
    assert_eq!(
        (s.postcode.as_str(), s.name.as_str()),
        ("190000", "Петров Пётр Петрович")
    );
    assert_eq!(s.callback_url.as_deref(), Some(rx.url.as_str()));

    // Our id is the client id: a resend after a lost answer gets the same letter.
    let again = gw.send_message(letter(id)).await;
    assert!(
        matches!(&again, SendResult::Accepted { gateway_message_id, .. } if *gateway_message_id == provider_id),
        "{again:?}"
    );
    assert_eq!(fake.submissions().len(), 1);

    // An SMS profile's message does not go through a mail gateway.
    let sms = vestnik::channels::profiles::SmsMessage {
        message_id: id,
        to: "+79161234567",
        text: "x",
        sender: None,
    };
    assert!(matches!(
        gw.send_outcome(sms).await,
        SendOutcome::Permanent(_)
    ));
}

#[tokio::test]
async fn mail_faults_classify() {
    let fake = FakeMail::start().await;
    let p = load("hybrid-mail.toml", fake.secrets(), &fake.base_url, "");
    let gw = ProfileGateway::new(p, None).unwrap();
    for (n, (fault, transient)) in [
        (MailFault::Http500, true),
        (MailFault::RateLimited, true),
        (MailFault::InvalidAddress, false),
        (MailFault::BadTrackingNumber, false),
    ]
    .into_iter()
    .enumerate()
    {
        fake.fail_next(1, fault.clone());
        let id = format!("0190a1b2-c3d4-7e5f-8a9b-00000000020{n}");
        let outcome = gw.send_outcome(letter(&id)).await;
        let ok = if transient {
            matches!(outcome, SendOutcome::Transient(_))
        } else {
            matches!(outcome, SendOutcome::Permanent(_))
        };
        assert!(ok, "{fault:?}: {outcome:?}");
        if fault == MailFault::BadTrackingNumber {
            let SendOutcome::Permanent(why) = outcome else {
                unreachable!()
            };
            assert!(why.contains("check digit") && why.contains("L-"), "{why}");
        }
    }
    let mut not_pdf = letter("0190a1b2-c3d4-7e5f-8a9b-000000000299");
    not_pdf.document.pdf = b"PK\x03\x04 a zip";
    assert!(matches!(
        gw.send_outcome(not_pdf).await,
        SendOutcome::Permanent(w) if w.contains("PDF")
    ));
    assert_eq!(fake.requests(), 4, "a non-PDF never leaves");

    let mut secrets = fake.secrets();
    secrets.insert("HYBRID_MAIL_TOKEN".into(), "wrong-token".into());
    let wrong = load("hybrid-mail.toml", secrets, &fake.base_url, "");
    let outcome = ProfileGateway::new(wrong, None)
        .unwrap()
        .send_outcome(letter("0190a1b2-c3d4-7e5f-8a9b-000000000298"))
        .await;
    assert!(
        !matches!(outcome, SendOutcome::Accepted { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn every_tracking_event_becomes_the_right_receipt() {
    let fake = FakeMail::start().await;
    let rx = Receiver::bind("hybrid-mail").await;
    let url = rx.url.clone();
    let p = load("hybrid-mail.toml", fake.secrets(), &fake.base_url, &url);
    let got = rx.serve(p.clone());
    let gw = ProfileGateway::new(p, None).unwrap();
    let (id, tracking) = accepted(
        gw.send_outcome(letter("0190a1b2-c3d4-7e5f-8a9b-000000000301"))
            .await,
    );
    let tracking = tracking.unwrap();

    let scan = b"%PDF-1.4 scan of the signed return receipt (form 119)".to_vec();
    let date = "2025-04-02T16:40:00+03:00";
    let expected: [(MailEvent, DeliveryStatus, Option<&str>, &str); 6] = [
        (MailEvent::Accepted, DeliveryStatus::Pending, None, "Приём"),
        (
            MailEvent::InTransit,
            DeliveryStatus::Pending,
            None,
            "Прибыло в сортировочный центр",
        ),
        (
            MailEvent::Arrived,
            DeliveryStatus::Pending,
            None,
            "Прибыло в место вручения",
        ),
        (
            MailEvent::Delivered,
            DeliveryStatus::Delivered,
            None,
            "Вручение адресату",
        ),
        (
            MailEvent::ReturnedUnclaimed,
            DeliveryStatus::Delivered,
            Some(RETURNED_UNCLAIMED_REASON),
            "Возврат",
        ),
        (
            MailEvent::ReturnedRefused,
            DeliveryStatus::Failed,
            Some("Отказ адресата"),
            "Возврат",
        ),
    ];
    assert_eq!(expected.len(), MailEvent::ALL.len());
    for (i, (event, status, reason, name)) in expected.into_iter().enumerate() {
        let with_scan = matches!(event, MailEvent::Delivered | MailEvent::ReturnedUnclaimed);
        let code = fake
            .event(&url, &id, event, date, with_scan.then_some(&scan[..]))
            .await;
        assert_eq!(code, 200, "{event:?}");
        let receipts = wait_for(&got, i + 1).await;
        let r = &receipts[i];
        assert_eq!(r.provider_message_id, id, "{event:?}");
        assert_eq!(
            (r.status, r.reason.as_deref()),
            (status, reason),
            "{event:?}"
        );
        assert_eq!(r.provider_status, name, "{event:?}");
        assert_eq!(r.details["tracking_number"], tracking);
        assert_eq!(
            r.provider_time.unwrap().to_rfc3339(),
            "2025-04-02T13:40:00+00:00",
            "{event:?}: the event's date"
        );
        assert_eq!(
            r.evidence.as_deref(),
            with_scan.then_some(&scan[..]),
            "{event:?}"
        );
    }

    // The latest event is what a poll sees.
    let PollOutcome::Status(r) = gw.poll(&id, "").await else {
        panic!()
    };
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (DeliveryStatus::Failed, Some("Отказ адресата"))
    );
    fake.event(&url, &id, MailEvent::ReturnedUnclaimed, date, Some(&scan))
        .await;
    let PollOutcome::Status(r) = gw.poll(&id, "").await else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.evidence.as_deref(), Some(&scan[..]));
    assert!(matches!(
        gw.poll("L-404", "").await,
        PollOutcome::Transient(_)
    ));

    let before = got.lock().unwrap().len();
    for signing in [fake_mail::Signing::Missing, fake_mail::Signing::Wrong] {
        let code = fake
            .event_signed(&url, &id, MailEvent::Delivered, date, None, signing)
            .await;
        assert_eq!(code, 401, "{signing:?}");
    }
    assert_eq!(
        got.lock().unwrap().len(),
        before,
        "a forged event was recorded"
    );
}

#[tokio::test]
async fn fax_busy_busy_then_delivered() {
    const NUMBER: &str = "+78121234567";
    let fake = FakeFax::start().await;
    fake.script(
        NUMBER,
        [FaxResult::Busy, FaxResult::NoAnswer, FaxResult::Success],
    );
    let rx = Receiver::bind("phaxio").await;
    let callback = rx.url.clone();
    let p = load("fax.toml", fake.secrets(), &fake.base_url, &callback);
    let got = rx.serve(p.clone());
    let gw = ProfileGateway::new(p, Some("Energosbyt".into())).unwrap();
    assert_eq!(gw.name(), "fax:phaxio");

    let mut ids = Vec::new();
    // What the dispatcher does on Retry: send again (a new fax each time).
    for attempt in 0..3 {
        let result = gw
            .send_message(fax(
                "0190a1b2-c3d4-7e5f-8a9b-000000000401",
                "+7 812 123-45-67",
            ))
            .await;
        let SendResult::Accepted {
            gateway_message_id,
            content_sha256,
            ..
        } = result
        else {
            panic!("{result:?}")
        };
        assert_eq!(
            content_sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(PDF))
        );
        ids.push(gateway_message_id);
        let receipts = wait_for(&got, attempt + 1).await;
        let r = &receipts[attempt];
        assert_eq!(r.provider_message_id, ids[attempt]);
        let (status, reason) = match attempt {
            0 => (DeliveryStatus::Retry, Some("Busy")),
            1 => (
                DeliveryStatus::Retry,
                Some("No answer from the fax machine"),
            ),
            _ => (DeliveryStatus::Delivered, None),
        };
        assert_eq!(
            (r.status, r.reason.as_deref()),
            (status, reason),
            "{attempt}"
        );
        assert!(r.provider_time.is_some());
        assert_eq!(r.details["pages"], "2");
    }
    assert!(!DeliveryStatus::Retry.is_final());

    let sent = fake.faxes();
    assert_eq!(sent.len(), 3);
    for f in &sent {
        assert_eq!(f.to, NUMBER);
        assert_eq!(f.pdf, PDF);
        assert_eq!(f.num_pages, 2);
        assert_eq!(f.callback_url.as_deref(), Some(callback.as_str()));
        assert_eq!(f.header_text.as_deref(), Some("Energosbyt"));
        assert_eq!(
            f.tags.get("vestnik_message_id").map(String::as_str),
            Some("0190a1b2-c3d4-7e5f-8a9b-000000000401")
        );
    }

    let PollOutcome::Status(r) = gw.poll(&ids[0], NUMBER).await else {
        panic!()
    };
    assert_eq!(
        (r.status, r.provider_status.as_str()),
        (DeliveryStatus::Retry, "failure.Busy")
    );
    let PollOutcome::Status(r) = gw.poll(&ids[2], NUMBER).await else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn fax_forged_and_inflight_webhooks() {
    let fake = FakeFax::start().await;
    fake.set_auto_callbacks(false);
    fake.script(
        "+78121234567",
        [FaxResult::Failure(
            "faxError",
            "Far end cannot receive at the size of image",
        )],
    );
    let rx = Receiver::bind("phaxio").await;
    let callback = rx.url.clone();
    let p = load("fax.toml", fake.secrets(), &fake.base_url, &callback);
    let got = rx.serve(p.clone());
    let gw = ProfileGateway::new(p, None).unwrap();
    let (id, _) = accepted(
        gw.send_outcome(fax("0190a1b2-c3d4-7e5f-8a9b-000000000501", "+78121234567"))
            .await,
    );
    assert_eq!(
        fake.faxes()[0].callback_url.as_deref(),
        Some(callback.as_str())
    );
    let PollOutcome::Status(r) = gw.poll(&id, "+78121234567").await else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Pending);

    let numeric: u64 = id.parse().unwrap();
    assert_eq!(fake.transmitting_page(numeric).await, 200);
    for signing in [fake_fax::Signing::Missing, fake_fax::Signing::Wrong] {
        assert_eq!(fake.callback(numeric, signing).await, 401, "{signing:?}");
    }
    assert!(
        got.lock().unwrap().is_empty(),
        "forged or inflight recorded"
    );
    assert_eq!(fake.callback(numeric, fake_fax::Signing::Valid).await, 200);
    let r = wait_for(&got, 1).await;
    assert_eq!(
        (r[0].status, r[0].reason.as_deref()),
        (
            DeliveryStatus::Failed,
            Some("Far end cannot receive at the size of image")
        )
    );
    assert_eq!(r[0].details["error_type"], "faxError");
}

#[tokio::test]
async fn fax_send_faults_classify() {
    let fake = FakeFax::start().await;
    let p = load(
        "fax.toml",
        fake.secrets(),
        &fake.base_url,
        "http://127.0.0.1:9/hook",
    );
    let gw = ProfileGateway::new(p, None).unwrap();
    for (fault, transient) in [
        (FaxFault::Http500, true),
        (FaxFault::RateLimited, true),
        (FaxFault::InvalidNumber, false),
    ] {
        fake.fail_next(1, fault.clone());
        let outcome = gw
            .send_outcome(fax("0190a1b2-c3d4-7e5f-8a9b-000000000601", "+78121234567"))
            .await;
        let ok = if transient {
            matches!(outcome, SendOutcome::Transient(_))
        } else {
            matches!(outcome, SendOutcome::Permanent(_))
        };
        assert!(ok, "{fault:?}: {outcome:?}");
    }
    assert!(fake.faxes().is_empty());
    let mut secrets = fake.secrets();
    secrets.insert("PHAXIO_API_SECRET".into(), "wrong".into());
    let p = load(
        "fax.toml",
        secrets,
        &fake.base_url,
        "http://127.0.0.1:9/hook",
    );
    let outcome = ProfileGateway::new(p, None)
        .unwrap()
        .send_outcome(fax("0190a1b2-c3d4-7e5f-8a9b-000000000602", "+78121234567"))
        .await;
    assert!(matches!(outcome, SendOutcome::Transient(w) if w.contains("401")));
}
