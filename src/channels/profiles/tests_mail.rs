//! Hybrid-mail profiles: the letter request, tracking numbers, postal events and
//! return-receipt scans, polling; which profile kinds may use what.

use axum::http::HeaderMap;
use base64::Engine;
use sha2::Digest as _;

use super::tests::{FAX, HYBRID_MAIL, MSG, PDF, accepted, load, options};
use super::*;

fn letter() -> MailMessage<'static> {
    MailMessage {
        message_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        recipient: Postal {
            name: "ООО «Ромашка»",
            postcode: "190000",
            address: "г. Санкт-Петербург, ул. Большая Морская, д. 61",
        },
        document: Document { pdf: PDF, pages: 3 },
        sender: Some("АО «Энергосбыт»"),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn signed(secret: &str, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let sig = hex::encode(webhook::hmac_sha256(secret.as_bytes(), body));
    headers.insert("x-signature", format!("sha256={sig}").parse().unwrap());
    headers
}

#[test]
fn mail_send_request_carries_the_letter() {
    let p = load(HYBRID_MAIL);
    assert_eq!(p.service(), "registered_with_receipt");
    let req = p.build_send(letter()).unwrap();
    assert_eq!(req.url, "https://hybrid-mail.example.invalid/v1/letters");
    assert_eq!(
        req.header("authorization"),
        Some("Bearer hybrid-bearer-secret")
    );
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["client_id"], letter().message_id);
    assert_eq!(body["service"], "registered_with_receipt");
    assert_eq!(body["sender"], "АО «Энергосбыт»");
    assert_eq!(body["recipient"]["postcode"], "190000");
    assert_eq!(body["recipient"]["name"], "ООО «Ромашка»");
    assert_eq!(body["document"]["pages"], 3);
    assert_eq!(body["document"]["content_base64"], b64(PDF));
    assert_eq!(
        body["document"]["sha256"],
        hex::encode(sha2::Sha256::digest(PDF))
    );
    assert_eq!(
        body["callback_url"],
        "https://vestnik.example/v1/receipts/x"
    );

    let wrong = p.build_send(MSG).unwrap_err();
    assert!(matches!(wrong, BuildError::WrongKind { .. }), "{wrong}");
    let mut bad = letter();
    bad.document.pdf = b"<html>";
    assert_eq!(p.build_send(bad).unwrap_err(), BuildError::NotPdf);
    let mut bad = letter();
    bad.recipient.postcode = "19000";
    assert!(matches!(p.build_send(bad), Err(BuildError::BadPostal(_))));
    assert!(matches!(
        load(FAX).build_send(letter()),
        Err(BuildError::WrongKind { .. })
    ));
}

#[test]
fn mail_tracking_number_is_verified() {
    let p = load(HYBRID_MAIL);
    let ok = br#"{"id":"L-1","tracking_number":"80110885894666","status":"accepted"}"#;
    assert_eq!(
        p.classify_send(letter(), 201, ok),
        SendOutcome::Accepted {
            provider_message_id: "L-1".into(),
            tracking_number: Some("80110885894666".into())
        }
    );
    let s10 = br#"{"id":"L-2","tracking_number":"RB123456785GB"}"#;
    assert!(matches!(
        p.classify_send(letter(), 201, s10),
        SendOutcome::Accepted { tracking_number: Some(n), .. } if n == "RB123456785GB"
    ));
    let bad = br#"{"id":"L-3","tracking_number":"80110885894667"}"#;
    match p.classify_send(letter(), 201, bad) {
        SendOutcome::Permanent(why) => {
            assert!(why.contains("L-3") && why.contains("check digit"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let garbage = br#"{"id":"L-4","tracking_number":"pending"}"#;
    assert!(matches!(
        p.classify_send(letter(), 201, garbage),
        SendOutcome::Permanent(_)
    ));
    let later = br#"{"id":"L-5"}"#;
    assert_eq!(p.classify_send(letter(), 201, later), accepted("L-5"));
    let refused = br#"{"error":{"code":"invalid_address","message":"no such street"}}"#;
    assert!(matches!(
        p.classify_send(letter(), 422, refused),
        SendOutcome::Permanent(_)
    ));
    let broke = br#"{"error":{"code":"insufficient_funds","message":"top up"}}"#;
    assert!(matches!(
        p.classify_send(letter(), 402, broke),
        SendOutcome::Transient(_)
    ));
}

fn event(operation: u32, attribute: u32, name: &str, reason: Option<&str>) -> serde_json::Value {
    let mut e = serde_json::json!({
        "operation": operation, "attribute": attribute, "name": name,
        "date": "2025-03-14T10:15:00+03:00", "postcode": "190000",
    });
    if let Some(r) = reason {
        e["reason"] = r.into();
    }
    serde_json::json!({"letter_id": "L-1", "tracking_number": "80110885894666", "event": e})
}

#[test]
fn mail_events_map_to_statuses() {
    let p = load(HYBRID_MAIL);
    let secret = "hybrid-hmac-secret-0123456789";
    let cases = [
        (event(1, 1, "Приём", None), DeliveryStatus::Pending, None),
        (
            event(8, 3, "Прибыло в сортировочный центр", None),
            DeliveryStatus::Pending,
            None,
        ),
        (
            event(8, 2, "Прибыло в место вручения", None),
            DeliveryStatus::Pending,
            None,
        ),
        (
            event(2, 1, "Вручение адресату", None),
            DeliveryStatus::Delivered,
            None,
        ),
        (
            event(3, 1, "Возврат", Some("Истек срок хранения")),
            DeliveryStatus::Delivered,
            Some(RETURNED_UNCLAIMED_REASON),
        ),
        (
            event(3, 4, "Возврат", Some("Отказ адресата")),
            DeliveryStatus::Failed,
            Some("Отказ адресата"),
        ),
        (
            event(2, 2, "Вручение отправителю", None),
            DeliveryStatus::Pending,
            None,
        ),
    ];
    for (doc, status, reason) in cases {
        let body = doc.to_string();
        p.verify_webhook(None, &signed(secret, body.as_bytes()), body.as_bytes())
            .unwrap();
        let r = p.parse_webhook(body.as_bytes()).unwrap();
        assert_eq!(r.len(), 1);
        let r = &r[0];
        let code = format!(
            "{}.{}",
            doc["event"]["operation"], doc["event"]["attribute"]
        );
        assert_eq!((r.status, r.reason.as_deref()), (status, reason), "{code}");
        assert_eq!(r.provider_message_id, "L-1");
        assert_eq!(r.provider_status, doc["event"]["name"].as_str().unwrap());
        assert_eq!(r.details["status_code"], code);
        assert_eq!(r.details["tracking_number"], "80110885894666");
        assert_eq!(
            r.provider_time.unwrap().to_rfc3339(),
            "2025-03-14T07:15:00+00:00"
        );
        assert_eq!(r.evidence, None);
    }
    let unclaimed = p
        .parse_webhook(
            event(3, 1, "Возврат", Some("Истек срок хранения"))
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    assert_eq!(
        unclaimed[0].details["provider_reason"],
        "Истек срок хранения"
    );
    assert_eq!(p.map_status("3.1"), DeliveryStatus::Delivered);
    assert_eq!(p.map_status("3.10"), DeliveryStatus::Failed);
    assert_eq!(p.map_status("5.1"), DeliveryStatus::Pending);
}

#[test]
fn mail_return_receipt_scan_is_evidence() {
    let p = load(HYBRID_MAIL);
    let scan = b"%PDF-1.4 scanned return receipt (form 119)";
    let mut doc = event(2, 1, "Вручение адресату", None);
    // Line-wrapped base64, as some providers send it.
    let encoded = b64(scan);
    doc["event"]["return_receipt"] = format!("{}\n{}", &encoded[..20], &encoded[20..]).into();
    let r = p.parse_webhook(doc.to_string().as_bytes()).unwrap();
    assert_eq!(r[0].evidence.as_deref(), Some(&scan[..]));
    assert_eq!(r[0].status, DeliveryStatus::Delivered);
    doc["event"]["return_receipt"] = "not base64 at all!".into();
    assert!(matches!(
        p.parse_webhook(doc.to_string().as_bytes()),
        Err(WebhookError::Malformed(_))
    ));
    let forged = event(2, 1, "Вручение адресату", None).to_string();
    assert!(matches!(
        p.verify_webhook(
            None,
            &signed("another-secret-0123456789", forged.as_bytes()),
            forged.as_bytes()
        ),
        Err(WebhookError::Unauthenticated(_))
    ));
}

#[test]
fn mail_poll() {
    let p = load(HYBRID_MAIL);
    let q = PollQuery {
        provider_message_id: "L-1",
        to: "",
    };
    let req = p.build_poll(&q).unwrap();
    assert_eq!(
        req.url,
        "https://hybrid-mail.example.invalid/v1/letters/L-1"
    );
    let mut doc = event(3, 1, "Возврат", Some("Истек срок хранения"));
    doc["id"] = "L-1".into();
    let PollOutcome::Status(r) = p.parse_poll(&q, 200, doc.to_string().as_bytes()) else {
        panic!()
    };
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (DeliveryStatus::Delivered, Some(RETURNED_UNCLAIMED_REASON))
    );
    assert!(r.provider_time.is_some());
}

/// The parts of a multipart body, by name.
#[test]
fn kind_rules_at_load() {
    let e = Profile::load(
        "x",
        &HYBRID_MAIL.replace("{{json postcode}}", "{{json to}}"),
        &options(),
    )
    .unwrap_err();
    assert_eq!(e.key, "send.template", "{e}");
    let e = Profile::load("x", &FAX.replace("{{fax_number}}", "{{text}}"), &options()).unwrap_err();
    assert_eq!(e.key, "send.fields.to", "{e}");
    let e = Profile::load(
        "x",
        &FAX.replace("kind = \"fax\"", "kind = \"fax\"\nservice = \"x\""),
        &options(),
    )
    .unwrap_err();
    assert_eq!(e.key, "service", "{e}");
    let e = Profile::load(
        "x",
        &FAX.replace(
            "message_id = \"/data/id\"",
            "message_id = \"/data/id\"\ntracking_number = \"/x\"",
        ),
        &options(),
    )
    .unwrap_err();
    assert_eq!(e.key, "send.response.tracking_number", "{e}");
}
