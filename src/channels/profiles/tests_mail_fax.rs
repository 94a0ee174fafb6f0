//! Mail and fax profiles: requests, answers, reports, signatures; status matching.

use axum::http::HeaderMap;
use base64::Engine;
use sha2::Digest as _;

use super::tests::{FAX, HYBRID_MAIL, MSG, load, options};
use super::*;

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

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

fn fax() -> FaxMessage<'static> {
    FaxMessage {
        message_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
        to: "+7 (812) 123-45-67",
        document: Document { pdf: PDF, pages: 2 },
        sender: Some("Energosbyt"),
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
    assert_eq!(
        p.classify_send(letter(), 201, later),
        SendOutcome::Accepted {
            provider_message_id: "L-5".into(),
            tracking_number: None
        }
    );
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
fn parts(body: &[u8]) -> Vec<webhook::ReceivedPart> {
    webhook::parse_multipart(body).unwrap()
}

#[test]
fn fax_send_is_multipart_with_the_pdf() {
    let p = load(FAX);
    let req = p.build_send(fax()).unwrap();
    assert_eq!(req.url, "https://api.phaxio.com/v2.1/faxes");
    assert_eq!(
        req.header("authorization"),
        Some("Basic cGhheGlvLWtleTpwaGF4aW8tc2VjcmV0")
    );
    let ct = req.header("content-type").unwrap();
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    assert!(req.body.starts_with(format!("--{boundary}\r\n").as_bytes()));
    let got = parts(&req.body);
    let get = |n: &str| got.iter().find(|p| p.name == n).unwrap();
    assert_eq!(get("to").data, b"+78121234567");
    assert_eq!(get("header_text").data, "Energosbyt".as_bytes());
    assert_eq!(
        get("tag[vestnik_message_id]").data,
        fax().message_id.as_bytes()
    );
    assert_eq!(
        get("callback_url").data,
        b"https://vestnik.example/v1/receipts/x"
    );
    let file = get("file");
    assert_eq!(file.data, PDF);
    assert_eq!(
        file.filename.as_deref(),
        Some("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c.pdf")
    );
    assert!(matches!(
        p.build_send(FaxMessage { to: "12", ..fax() }),
        Err(BuildError::BadPhone(_))
    ));
    assert_eq!(
        p.classify_send(
            fax(),
            200,
            br#"{"success":true,"message":"Fax queued for sending","data":{"id":123456}}"#
        ),
        SendOutcome::Accepted {
            provider_message_id: "123456".into(),
            tracking_number: None
        }
    );
    let invalid = br#"{"success":false,"message":"Invalid phone number"}"#;
    assert!(matches!(
        p.classify_send(fax(), 422, invalid),
        SendOutcome::Permanent(w) if w.contains("Invalid phone number")
    ));
    assert!(matches!(
        p.classify_send(fax(), 429, br#"{"success":false,"message":"Rate limit"}"#),
        SendOutcome::Transient(_)
    ));
}

/// A Phaxio v2.1 send webhook as Phaxio posts it: multipart, signed.
fn phaxio_webhook(
    fax: serde_json::Value,
    event_type: &str,
    token: &str,
    url: &str,
) -> (HeaderMap, Vec<u8>) {
    let fields = vec![
        ("event_type".to_owned(), event_type.to_owned()),
        ("fax".to_owned(), fax.to_string()),
    ];
    let parts: Vec<request::Part> = fields
        .iter()
        .map(|(n, v)| request::Part {
            name: n.clone(),
            filename: None,
            content_type: None,
            data: v.clone().into_bytes(),
        })
        .collect();
    let (_, body) = request::multipart(&parts);
    let sig = hex::encode(webhook::hmac_sha1(
        token.as_bytes(),
        &webhook::signed_text(url, &fields, &[]),
    ));
    let mut headers = HeaderMap::new();
    headers.insert("x-phaxio-signature", sig.parse().unwrap());
    (headers, body)
}

fn fax_object(status: &str, error: Option<(&str, &str, u32)>) -> serde_json::Value {
    let (error_type, error_message, error_id) = match error {
        Some((t, m, i)) => (t.into(), m.into(), i.into()),
        None => (
            serde_json::Value::Null,
            serde_json::Value::Null,
            serde_json::Value::Null,
        ),
    };
    serde_json::json!({
        "id": 123456, "direction": "sent", "num_pages": 2, "status": status, "is_test": false,
        "created_at": "2025-03-14T10:00:00.000+03:00",
        "completed_at": "2025-03-14T10:02:30.000+03:00",
        "caller_id": null, "cost": 14, "tags": {"vestnik_message_id": "x"},
        "recipients": [{"phone_number": "+78121234567", "status": status, "retry_count": 0,
            "completed_at": "2025-03-14T10:02:30.000+03:00", "bitrate": 14400,
            "resolution": 8040, "error_type": error_type, "error_message": error_message,
            "error_id": error_id}],
        "error_type": error_type, "error_message": error_message, "error_id": error_id,
    })
}

#[test]
fn fax_webhooks_are_signed_and_mapped() {
    let p = load(FAX);
    let url = "https://vestnik.example/v1/receipts/x";
    let token = "phaxio-webhook-token-0123456789";
    let (headers, body) = phaxio_webhook(fax_object("success", None), "fax_completed", token, url);
    p.verify_webhook(None, &headers, &body).unwrap();
    let r = p.parse_webhook(&body).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].provider_message_id.as_str(), r[0].status),
        ("123456", DeliveryStatus::Delivered)
    );
    assert_eq!(r[0].details["pages"], "2");
    assert_eq!(
        r[0].provider_time.unwrap().to_rfc3339(),
        "2025-03-14T07:02:30+00:00"
    );

    for (message, status) in [
        ("Busy", DeliveryStatus::Retry),
        ("No answer from the fax machine", DeliveryStatus::Retry),
        ("Phone number not operational", DeliveryStatus::Failed),
    ] {
        let obj = fax_object("failure", Some(("lineError", message, 42)));
        let (headers, body) = phaxio_webhook(obj, "fax_completed", token, url);
        p.verify_webhook(None, &headers, &body).unwrap();
        let r = &p.parse_webhook(&body).unwrap()[0];
        assert_eq!(
            (r.status, r.reason.as_deref()),
            (status, Some(message)),
            "{message}"
        );
        assert!(!r.status.is_final() || status == DeliveryStatus::Failed);
        assert_eq!(r.details["error_type"], "lineError");
    }

    let (headers, body) = phaxio_webhook(
        fax_object("inprogress", None),
        "transmitting_page",
        token,
        url,
    );
    p.verify_webhook(None, &headers, &body).unwrap();
    assert!(
        p.parse_webhook(&body).unwrap().is_empty(),
        "inflight skipped"
    );

    let (headers, body) = phaxio_webhook(
        fax_object("success", None),
        "fax_completed",
        "forged-token-0123456789",
        url,
    );
    assert!(matches!(
        p.verify_webhook(None, &headers, &body),
        Err(WebhookError::Unauthenticated(_))
    ));
    let (headers, body) = phaxio_webhook(
        fax_object("success", None),
        "fax_completed",
        token,
        "https://attacker.example/hook",
    );
    assert!(
        p.verify_webhook(None, &headers, &body).is_err(),
        "URL signed"
    );
    let (headers, mut body) =
        phaxio_webhook(fax_object("failure", None), "fax_completed", token, url);
    let at = body.windows(7).position(|w| w == b"failure").unwrap();
    body[at..at + 7].copy_from_slice(b"success");
    assert!(
        p.verify_webhook(None, &headers, &body).is_err(),
        "body signed"
    );
    assert!(p.verify_webhook(None, &HeaderMap::new(), &body).is_err());

    let no_url = LoadOptions {
        callback_url: None,
        ..options()
    };
    let e = Profile::load("fax.toml", FAX, &no_url).unwrap_err();
    assert_eq!(e.key, "receipts.auth", "{e}");
}

#[test]
fn fax_poll_reads_the_fax_object() {
    let p = load(FAX);
    let q = PollQuery {
        provider_message_id: "123456",
        to: "+78121234567",
    };
    assert_eq!(
        p.build_poll(&q).unwrap().url,
        "https://api.phaxio.com/v2.1/faxes/123456"
    );
    let body = serde_json::json!({"success": true, "message": "Retrieved fax successfully",
        "data": fax_object("failure", Some(("lineError", "Busy", 42)))});
    let PollOutcome::Status(r) = p.parse_poll(&q, 200, body.to_string().as_bytes()) else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Retry);
    assert_eq!(r.provider_status, "failure.Busy");
    let queued = serde_json::json!({"success": true, "data": fax_object("queued", None)});
    let PollOutcome::Status(r) = p.parse_poll(&q, 200, queued.to_string().as_bytes()) else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Pending);
    assert!(matches!(
        p.parse_poll(&q, 404, br#"{"success":false,"message":"Fax not found"}"#),
        PollOutcome::Transient(_)
    ));
}

/// A fax provider reporting pages sent and submitted and the remote CSID in a form callback
/// (the shape InterFAX's outbound callback has), token-authenticated.
const PAGES_FAX: &str = r#"
name = "pages-fax"
kind = "fax"
base_url = "https://fax.example.invalid"
phone_format = "digits"

[send]
method = "POST"
url = "{{base_url}}/outbound/faxes?faxNumber={{fax_digits}}"
format = "multipart"
file = { field = "file", filename = "letter.pdf" }
fields = { pages = "{{pages}}", sha256 = "{{pdf_sha256}}" }
[send.response]
message_id = "/id"

[statuses]
delivered = [0]
retry = [3931, 3935]
pending = ["-9..=-1"]
failed = ["1..=99999"]

[receipts]
format = "form"
message_id = "/TransactionID"
status = "/Status"
time = "/CompletionTime"
auth = { type = "token", in = "query", name = "token", value = "pages-fax-token-0123456789" }

[receipts.report]
pages_sent = "/PagesSent"
pages_submitted = "/PagesSubmitted"
details = { csid = "/RemoteCSID", result_code = "/Status", duration = "/Duration" }
"#;

#[test]
fn fax_pages_and_csid() {
    let p = Profile::load("pages.toml", PAGES_FAX, &options()).unwrap();
    let req = p.build_send(fax()).unwrap();
    assert!(req.url.ends_with("faxNumber=78121234567"));
    let form = |status: &str, sent: &str| {
        format!(
            "TransactionID=987&Status={status}&PagesSent={sent}&PagesSubmitted=2\
             &RemoteCSID=%2B7+812+123+4567&CompletionTime=2025-03-14T07%3A02%3A30Z&Duration=61"
        )
    };
    let r = &p.parse_webhook(form("0", "2").as_bytes()).unwrap()[0];
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.details["csid"], "+7 812 123 4567");
    assert_eq!(r.details["pages_sent"], "2");
    assert_eq!(r.details["result_code"], "0");
    assert!(r.provider_time.is_some());
    let r = &p.parse_webhook(form("0", "1").as_bytes()).unwrap()[0];
    assert_eq!(
        (r.status, r.reason.as_deref()),
        (DeliveryStatus::Failed, Some("1 of 2 pages sent"))
    );
    let r = &p.parse_webhook(form("3931", "0").as_bytes()).unwrap()[0];
    assert_eq!(r.status, DeliveryStatus::Retry);
    let r = &p.parse_webhook(form("-2", "0").as_bytes()).unwrap()[0];
    assert_eq!(r.status, DeliveryStatus::Pending);
    let r = &p.parse_webhook(form("8020", "0").as_bytes()).unwrap()[0];
    assert_eq!(r.status, DeliveryStatus::Failed);
}

#[test]
fn most_specific_status_wins() {
    let table = |extra: &str| {
        let text = PAGES_FAX.replace(
            "[statuses]\ndelivered = [0]\nretry = [3931, 3935]\npending = [\"-9..=-1\"]\nfailed = [\"1..=99999\"]",
            &format!("[statuses]\n{extra}"),
        );
        Profile::load("t.toml", &text, &options()).unwrap()
    };
    let p = table(
        r#"delivered = ["2.*"]
pending = ["2.2", "8*"]
delivered_returned = ["3.1"]
failed = ["3.*", "fail*"]
retry = ["failure.Busy"]"#,
    );
    for (value, status) in [
        ("2", DeliveryStatus::Delivered),
        ("2.1", DeliveryStatus::Delivered),
        ("2.2", DeliveryStatus::Pending),
        ("2.10", DeliveryStatus::Delivered),
        ("20", DeliveryStatus::Pending),
        ("3.1", DeliveryStatus::Delivered),
        ("3.11", DeliveryStatus::Failed),
        ("81", DeliveryStatus::Pending),
        ("failure", DeliveryStatus::Failed),
        ("failure.Busy", DeliveryStatus::Retry),
        ("failure.Other", DeliveryStatus::Failed),
    ] {
        assert_eq!(p.map_status(value), status, "{value}");
    }
    let e = Profile::load(
        "t.toml",
        &PAGES_FAX.replace("retry = [3931, 3935]", r#"retry = ["*"]"#),
        &options(),
    )
    .unwrap_err();
    assert_eq!(e.key, "statuses.retry", "{e}");
}

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

#[test]
fn multipart_round_trip() {
    let parts_in = vec![
        request::Part {
            name: "a\"b".into(),
            filename: None,
            content_type: None,
            data: b"x\r\n--y".to_vec(),
        },
        request::Part {
            name: "f".into(),
            filename: Some("f.pdf".into()),
            content_type: Some("application/pdf".into()),
            data: PDF.to_vec(),
        },
    ];
    let (boundary, body) = request::multipart(&parts_in);
    assert!(
        !PDF.windows(boundary.len())
            .any(|w| w == boundary.as_bytes())
    );
    let out = parts(&body);
    assert_eq!(out.len(), 2);
    assert_eq!(
        (out[0].name.as_str(), &out[0].data[..]),
        ("a%22b", &b"x\r\n--y"[..])
    );
    assert_eq!(out[1].filename.as_deref(), Some("f.pdf"));
    assert_eq!(out[1].data, PDF);
    assert!(webhook::parse_multipart(b"--b\r\nno end").is_err());
}

#[test]
fn hmac_sha1_matches_rfc_2202() {
    assert_eq!(
        hex::encode(webhook::hmac_sha1(&[0x0b; 20], b"Hi There")),
        "b617318655057264e28bc0b6fb378c8ef146be00"
    );
    assert_eq!(
        hex::encode(webhook::hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
    );
    assert_eq!(
        hex::encode(webhook::hmac_sha1(
            &[0xaa; 80],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "aa4ae5e15272d00e95705637ce8a3b55ed402112"
    );
}
