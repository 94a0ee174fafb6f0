//! Fax profiles (Phaxio): the multipart request with the PDF, signed webhooks, polling,
//! pages and CSID; status tables where the most specific value wins; multipart and
//! HMAC-SHA1 themselves.

use axum::http::HeaderMap;

use super::tests::{FAX, PDF, accepted, load, options};
use super::*;

fn fax() -> FaxMessage<'static> {
    FaxMessage {
        message_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
        to: "+7 (812) 123-45-67",
        document: Document { pdf: PDF, pages: 2 },
        sender: Some("Energosbyt"),
    }
}

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
        accepted("123456")
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
