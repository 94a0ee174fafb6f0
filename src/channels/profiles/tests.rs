//! Profile loading, request building, response and webhook reading, on the shipped
//! profiles and on documented provider answers.

use axum::http::HeaderMap;

use super::*;

pub(super) const SMSRU: &str = include_str!("../../../channels/smsru.toml");
pub(super) const SMSC: &str = include_str!("../../../channels/smsc.toml");
pub(super) const SMSAERO: &str = include_str!("../../../channels/smsaero.toml");
pub(super) const GENERIC: &str = include_str!("../../../channels/generic-json.toml");
pub(super) const HYBRID_MAIL: &str = include_str!("../../../channels/hybrid-mail.toml");
pub(super) const FAX: &str = include_str!("../../../channels/fax.toml");

/// A tiny PDF for mail and fax messages.
pub(super) const PDF: &[u8] = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

pub(super) fn options() -> LoadOptions {
    let secrets = [
        ("SMSRU_API_ID", "api-id-secret-1"),
        ("SMSRU_WEBHOOK_TOKEN", "smsru-token-0123456789"),
        ("SMSC_LOGIN", "vestnik"),
        ("SMSC_PASSWORD", "smsc-password-secret"),
        ("SMSC_WEBHOOK_TOKEN", "smsc-token-0123456789"),
        ("SMSAERO_EMAIL", "ops@example.ru"),
        ("SMSAERO_API_KEY", "aero-key-secret"),
        ("SMSAERO_WEBHOOK_TOKEN", "aero-token-0123456789"),
        ("GENERIC_SMS_TOKEN", "generic-bearer-secret"),
        (
            "GENERIC_SMS_WEBHOOK_SECRET",
            "generic-hmac-secret-0123456789",
        ),
        ("HYBRID_MAIL_TOKEN", "hybrid-bearer-secret"),
        (
            "HYBRID_MAIL_WEBHOOK_SECRET",
            "hybrid-hmac-secret-0123456789",
        ),
        ("PHAXIO_API_KEY", "phaxio-key"),
        ("PHAXIO_API_SECRET", "phaxio-secret"),
        ("PHAXIO_WEBHOOK_TOKEN", "phaxio-webhook-token-0123456789"),
    ];
    LoadOptions {
        secrets: secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        base_url: None,
        callback_url: Some("https://vestnik.example/v1/receipts/x".into()),
    }
}

pub(super) fn load(text: &str) -> Profile {
    Profile::load("test.toml", text, &options()).unwrap_or_else(|e| panic!("{e}"))
}

pub(super) const MSG: SmsMessage<'static> = SmsMessage {
    message_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    to: "+7 916 123-45-67",
    text: "Отключение 12.03 с 10:00 & до 14:00",
    sender: None,
};

/// A send the provider accepted under `id`, with no tracking number (SMS, fax).
pub(super) fn accepted(id: &str) -> SendOutcome {
    SendOutcome::Accepted {
        provider_message_id: id.into(),
        tracking_number: None,
    }
}

pub(super) fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[test]
fn all_shipped_profiles_load() {
    for (text, kind) in [
        (SMSRU, Kind::Sms),
        (SMSC, Kind::Sms),
        (SMSAERO, Kind::Sms),
        (GENERIC, Kind::Sms),
        (HYBRID_MAIL, Kind::Mail),
        (FAX, Kind::Fax),
    ] {
        let p = load(text);
        assert!(p.polls() && p.has_webhook(), "{}", p.name());
        assert_eq!(p.kind(), kind, "{}", p.name());
    }
}

#[test]
fn smsru_send_request_and_answers() {
    let p = load(SMSRU);
    let req = p.build_send(MSG).unwrap();
    assert_eq!(
        (req.method, req.url.as_str()),
        (Method::Post, "https://sms.ru/sms/send")
    );
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form(&req.body);
    assert!(fields.contains(&("to".into(), "79161234567".into())));
    assert!(fields.contains(&("msg".into(), MSG.text.into())));
    assert!(fields.contains(&("api_id".into(), "api-id-secret-1".into())));
    assert!(
        !fields.iter().any(|(k, _)| k == "from"),
        "empty sender is left out"
    );
    let debug = format!("{req:?} {p:?}");
    assert!(
        !debug.contains("api-id-secret-1") && !debug.contains("7916"),
        "{debug}"
    );

    let ok = br#"{"status":"OK","status_code":100,"sms":{"79161234567":{"status":"OK","status_code":100,"sms_id":"000000-10000000"}},"balance":4122.56}"#;
    assert_eq!(p.classify_send(MSG, 200, ok), accepted("000000-10000000"));
    let bad_number = r#"{"status":"OK","status_code":100,"sms":{"79161234567":{"status":"ERROR","status_code":207,"status_text":"На этот номер нельзя отправлять сообщения"}}}"#;
    assert_eq!(
        p.classify_send(MSG, 200, bad_number.as_bytes()),
        SendOutcome::Permanent(
            "provider error 207: На этот номер нельзя отправлять сообщения".into()
        )
    );
    // The text is logged and kept as the message's reason: a quoted number is masked.
    let quoted = r#"{"status":"OK","status_code":100,"sms":{"79161234567":{"status":"ERROR","status_code":207,"status_text":"Номер 79161234567 в стоп-листе"}}}"#;
    assert_eq!(
        p.classify_send(MSG, 200, quoted.as_bytes()),
        SendOutcome::Permanent("provider error 207: Номер *******4567 в стоп-листе".into())
    );
    let no_money = r#"{"status":"ERROR","status_code":201,"status_text":"Не хватает средств"}"#;
    assert!(matches!(
        p.classify_send(MSG, 200, no_money.as_bytes()),
        SendOutcome::Transient(_)
    ));
    assert!(
        matches!(p.classify_send(MSG, 502, b"<html>"), SendOutcome::Transient(w) if w.starts_with("HTTP 502"))
    );
    assert!(
        matches!(p.classify_send(MSG, 200, b"100\n000000-1"), SendOutcome::Transient(w) if w.contains("not JSON"))
    );
}

#[test]
fn smsru_poll_and_callback() {
    let p = load(SMSRU);
    let q = PollQuery {
        provider_message_id: "000000-10000000",
        to: MSG.to,
    };
    let req = p.build_poll(&q).unwrap();
    let (path, query) = req.url.split_once('?').unwrap();
    assert_eq!(
        (req.method, path),
        (Method::Get, "https://sms.ru/sms/status")
    );
    let query = form(query.as_bytes());
    for (k, v) in [
        ("api_id", "api-id-secret-1"),
        ("sms_id", "000000-10000000"),
        ("json", "1"),
    ] {
        assert!(query.contains(&(k.into(), v.into())), "{k}");
    }
    let body = r#"{"status":"OK","status_code":100,"sms":{"000000-10000000":{"status":"OK","status_code":104,"status_text":"Истекло время жизни"}}}"#;
    let PollOutcome::Status(r) = p.parse_poll(&q, 200, body.as_bytes()) else {
        panic!()
    };
    assert_eq!(
        (r.status, r.provider_status.as_str()),
        (DeliveryStatus::Expired, "104")
    );
    let missing = r#"{"status":"OK","sms":{"000000-10000000":{"status":"ERROR","status_code":-1,"status_text":"Не найдено"}}}"#;
    assert!(matches!(
        p.parse_poll(&q, 200, missing.as_bytes()),
        PollOutcome::Transient(_)
    ));

    let lines = [
        "sms_status\n000000-1\n103\n1741770000",
        "callcheck_status\nx\n401\n1",
        "sms_status\n000000-2\n106\n1741770001",
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(lines.iter().map(|l| ("data[]", *l)))
        .finish();
    let mut q = String::from("token=smsru-token-0123456789");
    assert_eq!(
        p.verify_webhook(Some(&q), &HeaderMap::new(), body.as_bytes()),
        Ok(())
    );
    let receipts = p.parse_webhook(body.as_bytes()).unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0].provider_message_id, "000000-1");
    assert_eq!(receipts[0].status, DeliveryStatus::Delivered);
    assert_eq!(receipts[0].provider_time.unwrap().timestamp(), 1741770000);
    assert_eq!(receipts[0].raw, lines[0]);
    assert_eq!(receipts[1].status, DeliveryStatus::Failed);
    assert_eq!(p.webhook_reply().body, "100");
    q.push('x');
    assert!(matches!(
        p.verify_webhook(Some(&q), &HeaderMap::new(), body.as_bytes()),
        Err(WebhookError::Unauthenticated(_))
    ));
    assert!(
        p.verify_webhook(None, &HeaderMap::new(), body.as_bytes())
            .is_err()
    );
}

#[test]
fn smsc_request_answers_and_callback() {
    let p = load(SMSC);
    let req = p.build_send(MSG).unwrap();
    let fields = form(&req.body);
    for (k, v) in [
        ("phones", "79161234567"),
        ("id", MSG.message_id),
        ("fmt", "3"),
        ("charset", "utf-8"),
        ("psw", "smsc-password-secret"),
    ] {
        assert!(fields.contains(&(k.into(), v.into())), "{k}");
    }
    let ok = format!(r#"{{"id":"{}","cnt":1}}"#, MSG.message_id);
    assert_eq!(
        p.classify_send(MSG, 200, ok.as_bytes()),
        accepted(MSG.message_id)
    );
    for (code, permanent) in [
        (1, true),
        (2, false),
        (3, false),
        (4, false),
        (5, true),
        (6, true),
        (7, true),
        (8, true),
        (9, false),
    ] {
        let body = format!(r#"{{"error":"ошибка","error_code":{code}}}"#);
        let outcome = p.classify_send(MSG, 200, body.as_bytes());
        assert_eq!(
            matches!(outcome, SendOutcome::Permanent(_)),
            permanent,
            "{code}: {outcome:?}"
        );
    }
    let q = PollQuery {
        provider_message_id: MSG.message_id,
        to: MSG.to,
    };
    assert!(p.build_poll(&q).unwrap().url.contains("phone=79161234567"));
    let PollOutcome::Status(r) = p.parse_poll(
        &q,
        200,
        br#"{"status":1,"last_date":"28.12.2021 19:51:16","last_timestamp":1640710276}"#,
    ) else {
        panic!()
    };
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert_eq!(r.provider_time.unwrap().timestamp(), 1640710276);

    let body = format!(
        "id={}&phone=79161234567&status=22&time=1640710276&err=0",
        MSG.message_id
    );
    p.verify_webhook(
        Some("token=smsc-token-0123456789"),
        &HeaderMap::new(),
        body.as_bytes(),
    )
    .unwrap();
    let r = p.parse_webhook(body.as_bytes()).unwrap();
    assert_eq!(
        (r[0].status, r[0].raw.as_str()),
        (DeliveryStatus::Failed, body.as_str())
    );
    for (code, status) in [
        ("3", DeliveryStatus::Expired),
        ("-1", DeliveryStatus::Pending),
        ("0", DeliveryStatus::Pending),
        ("25", DeliveryStatus::Failed),
    ] {
        assert_eq!(p.map_status(code), status, "{code}");
    }
}

#[test]
fn smsaero_request_answers_and_callback() {
    let p = load(SMSAERO);
    let req = p
        .build_send(SmsMessage {
            sender: Some("Energo"),
            ..MSG
        })
        .unwrap();
    assert_eq!(
        req.header("authorization"),
        Some("Basic b3BzQGV4YW1wbGUucnU6YWVyby1rZXktc2VjcmV0")
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["number"], "79161234567");
    assert_eq!(body["sign"], "Energo");
    assert_eq!(
        body["callbackUrl"],
        "https://vestnik.example/v1/receipts/x?token=aero-token-0123456789"
    );
    let ok = br#"{"success":true,"data":{"id":686325,"from":"SMS Aero","number":"79161234567","status":0,"extendStatus":"queue"},"message":null}"#;
    assert_eq!(p.classify_send(MSG, 200, ok), accepted("686325"));
    let invalid = br#"{"success":false,"data":null,"message":"Validation error."}"#;
    assert_eq!(
        p.classify_send(MSG, 400, invalid),
        SendOutcome::Permanent("HTTP 400: provider error: Validation error.".into())
    );
    assert!(matches!(
        p.classify_send(MSG, 401, b"{\"success\":false}"),
        SendOutcome::Transient(_)
    ));

    let r = p
        .parse_webhook(
            br#"{"id":686325,"status":6,"extendStatus":"reject","dateAnswer":1622650990}"#,
        )
        .unwrap();
    assert_eq!(
        (r[0].provider_message_id.as_str(), r[0].status),
        ("686325", DeliveryStatus::Failed)
    );
    let without_callback = LoadOptions {
        callback_url: None,
        ..options()
    };
    let p = Profile::load("x", SMSAERO, &without_callback).unwrap();
    let body: serde_json::Value = serde_json::from_slice(&p.build_send(MSG).unwrap().body).unwrap();
    assert!(body.get("callbackUrl").is_none());
}

#[test]
fn generic_signed_webhook() {
    let p = load(GENERIC);
    let req = p.build_send(MSG).unwrap();
    assert_eq!(
        req.header("authorization"),
        Some("Bearer generic-bearer-secret")
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        (body["to"].as_str(), body["client_id"].as_str()),
        (Some("+79161234567"), Some(MSG.message_id))
    );
    let err = br#"{"error":{"code":"rate_limited","message":"slow down"}}"#;
    assert_eq!(
        p.classify_send(MSG, 400, err),
        SendOutcome::Transient("HTTP 400: provider error rate_limited: slow down".into())
    );

    let hook = br#"{"id":"p-1","status":"delivered","time":"2025-03-12T10:00:00+03:00"}"#;
    let sig = hex::encode(webhook::hmac_sha256(
        b"generic-hmac-secret-0123456789",
        hook,
    ));
    let mut headers = HeaderMap::new();
    headers.insert("x-signature", format!("sha256={sig}").parse().unwrap());
    p.verify_webhook(None, &headers, hook).unwrap();
    let r = p.parse_webhook(hook).unwrap();
    assert_eq!(
        r[0].provider_time.unwrap().to_rfc3339(),
        "2025-03-12T07:00:00+00:00"
    );
    let forged = br#"{"id":"p-1","status":"failed","time":"2025-03-12T10:00:00+03:00"}"#;
    assert!(matches!(
        p.verify_webhook(None, &headers, forged),
        Err(WebhookError::Unauthenticated(_))
    ));
    assert!(p.verify_webhook(None, &HeaderMap::new(), hook).is_err());
    headers.insert("x-signature", "sha256=zz".parse().unwrap());
    assert!(p.verify_webhook(None, &headers, hook).is_err());
    assert!(matches!(
        p.parse_webhook(b"{"),
        Err(WebhookError::Malformed(_))
    ));
    assert!(matches!(
        p.parse_webhook(br#"{"status":"delivered"}"#),
        Err(WebhookError::Malformed(_))
    ));
}
