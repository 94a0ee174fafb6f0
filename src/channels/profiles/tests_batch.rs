//! `[send_batch]`: building one request for several SMS and reading its answer per message.

use serde_json::{Value, json};

use super::tests::{GENERIC, MSG, SMSRU, accepted, form, load, options};
use super::*;

fn messages() -> Vec<SmsMessage<'static>> {
    vec![
        SmsMessage {
            message_id: "m-1",
            ..MSG
        },
        SmsMessage {
            message_id: "m-2",
            to: "12",
            ..MSG
        },
        SmsMessage {
            message_id: "m-3",
            to: "+7 999 000-11-22",
            text: "Второе",
            sender: Some("RUSENERGO"),
        },
    ]
}

#[test]
fn one_request_carries_every_sendable_message() {
    let p = load(GENERIC);
    assert_eq!(p.batch_max(), 100);
    assert_eq!(load(SMSRU).batch_max(), 100);
    assert!(!p.batch_answers_by_number());
    let batch = p.build_send_batch(&messages()).unwrap();
    let request = batch.request().expect("two messages can go");
    assert_eq!(request.url, "https://sms.example.invalid/v1/messages/batch");
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.header("authorization"),
        Some("Bearer generic-bearer-secret")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    // The bad number stays out; the others are what `[send]` would send, in order.
    assert_eq!(
        body,
        json!({"messages": [
            {"to": "+79161234567", "text": MSG.text, "client_id": "m-1"},
            {"to": "+79990001122", "text": "Второе", "client_id": "m-3", "sender": "RUSENERGO"},
        ]})
    );
    let single: Value = serde_json::from_slice(&p.build_send(messages()[0]).unwrap().body).unwrap();
    assert_eq!(single, body["messages"][0]);
}

#[test]
fn answers_are_read_per_message_in_order() {
    let p = load(GENERIC);
    let batch = p.build_send_batch(&messages()).unwrap();
    let answer = json!({"messages": [
        {"id": "p-1"},
        {"error": {"code": "invalid_number", "message": "no such subscriber"}},
    ]})
    .to_string();
    let outcomes = batch.outcomes(&p, Ok((200, answer.as_bytes())));
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], accepted("p-1"));
    assert!(
        matches!(&outcomes[1], SendOutcome::Permanent(why) if why.contains("phone")),
        "{:?}",
        outcomes[1]
    );
    assert!(
        matches!(&outcomes[2], SendOutcome::Permanent(why) if why.contains("invalid_number")),
        "{:?}",
        outcomes[2]
    );
}

#[test]
fn a_failed_request_fails_every_message_in_it() {
    let p = load(GENERIC);
    let batch = p.build_send_batch(&messages()).unwrap();
    let sent = |answer: Result<(u16, &[u8]), &str>| {
        let outcomes = batch.outcomes(&p, answer);
        assert!(
            matches!(&outcomes[1], SendOutcome::Permanent(_)),
            "{outcomes:?}"
        );
        [outcomes[0].clone(), outcomes[2].clone()]
    };
    let transient = |o: &SendOutcome, part: &str| matches!(o, SendOutcome::Transient(why) if why.contains(part));
    // In transit, a 5xx, an answer that is not JSON, one with a result missing: resend.
    for (answer, part) in [
        (Err("timed out"), "timed out"),
        (Ok((503, &b"busy"[..])), "HTTP 503"),
        (Ok((200, &b"<html>"[..])), "not JSON"),
        (
            Ok((200, &br#"{"messages":[{"id":"p-1"}]}"#[..])),
            "1 results at /messages for 2 messages",
        ),
        (Ok((200, &br#"{"ok":true}"#[..])), "0 results"),
    ] {
        let outcomes = sent(answer);
        assert!(
            outcomes.iter().all(|o| transient(o, part)),
            "{part}: {outcomes:?}"
        );
    }
    // The provider refused the request itself: its error code decides, for every message.
    let refused = br#"{"error":{"code":"forbidden_content","message":"blocked"}}"#;
    for o in sent(Ok((400, &refused[..]))) {
        assert!(
            matches!(&o, SendOutcome::Permanent(why) if why.contains("forbidden_content")),
            "{o:?}"
        );
    }
}

#[test]
fn only_every_message_refused_means_no_request() {
    let p = load(GENERIC);
    let bad = SmsMessage { to: "1", ..MSG };
    let batch = p.build_send_batch(&[bad, bad]).unwrap();
    assert!(batch.request().is_none());
    let outcomes = batch.outcomes(&p, Err("never sent"));
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, SendOutcome::Permanent(_))),
        "{outcomes:?}"
    );
}

#[test]
fn send_batch_load_errors_name_the_key() {
    let load_error =
        |text: &str| Profile::load("bad.toml", text, &options()).expect_err("must not load");
    let e = load_error(&GENERIC.replace("max = 100", "max = 1"));
    assert_eq!(e.key, "send_batch.max", "{e}");
    let e = load_error(&GENERIC.replace(r#"results = "/messages""#, r#"results = "messages""#));
    assert_eq!(e.key, "send_batch.results", "{e}");
    let e = load_error(&GENERIC.replace("/messages/batch", "/messages/{{to}}"));
    assert_eq!(e.key, "send_batch.url", "{e}");
    let e = load_error(&GENERIC.replace(r#"items = "messages""#, r#"itms = "messages""#));
    assert!(e.message.contains("itms"), "{e}");
    // The JSON shape on a form [send], and the form shape incomplete or naming no field.
    let smsru = |from: &str, to: &str| load_error(&SMSRU.replace(from, to));
    let e = smsru(r#"item_name = "to[{{to_digits}}]""#, r#"items = "m""#);
    assert_eq!(e.key, "send_batch.items", "{e}");
    let e = smsru(r#"item_value = "{{text}}""#, "");
    assert_eq!(e.key, "send_batch.item_value", "{e}");
    let e = smsru(r#"omit = ["to", "msg"]"#, r#"omit = ["to", "text"]"#);
    assert_eq!(e.key, "send_batch.omit", "{e}");
    assert!(e.message.contains("text"), "{e}");
    let e = load_error(&GENERIC.replace(r#"items = "messages""#, r#"item_name = "x""#));
    assert_eq!(e.key, "send_batch.item_name", "{e}");
    let e = smsru(r#"entry = "/sms/{{to_digits}}""#, "");
    assert_eq!(e.key, "send_batch.entry", "{e}");
    // One name for every message's field, or a per-message field kept: both load errors.
    let e = smsru(
        r#"item_name = "to[{{to_digits}}]""#,
        r#"item_name = "list[]""#,
    );
    assert_eq!(e.key, "send_batch.item_name", "{e}");
    let e = smsru(r#"omit = ["to", "msg"]"#, r#"omit = ["to"]"#);
    assert_eq!(e.key, "send_batch.omit", "{e}");
    assert!(e.message.contains("msg"), "{e}");
}

/// SMS.ru's bulk form: `to[<number>]=<text>` per message, the rest of `[send]` once.
#[test]
fn a_form_batch_carries_one_field_per_number() {
    let p = load(SMSRU);
    assert!(p.batch_answers_by_number());
    let mut messages = messages();
    // A second message to m-1's number, written another way: it must wait for a retry.
    messages.push(SmsMessage {
        message_id: "m-4",
        to: "+7 (916) 123-45-67",
        ..MSG
    });
    let batch = p.build_send_batch(&messages).unwrap();
    let request = batch.request().expect("two messages can go");
    assert_eq!(request.url, "https://sms.ru/sms/send");
    assert_eq!(request.method, Method::Post);
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form(&request.body);
    let field = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        fields,
        vec![
            field("api_id", "api-id-secret-1"),
            field("json", "1"),
            field("to[79161234567]", MSG.text),
            field("to[79990001122]", "Второе"),
        ]
    );

    let answer = json!({"status": "OK", "status_code": 100, "balance": 10.5, "sms": {
        "79990001122": {"status": "ERROR", "status_code": 207, "status_text": "нельзя"},
        "79161234567": {"status": "OK", "status_code": 100, "sms_id": "000000-1"},
    }})
    .to_string();
    let outcomes = batch.outcomes(&p, Ok((200, answer.as_bytes())));
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[0], accepted("000000-1"));
    assert!(matches!(&outcomes[1], SendOutcome::Permanent(why) if why.contains("phone")));
    assert!(matches!(&outcomes[2], SendOutcome::Permanent(why) if why.contains("207")));
    assert!(
        matches!(&outcomes[3], SendOutcome::Transient(why) if why.contains("same request")),
        "{:?}",
        outcomes[3]
    );

    // A request-level error (a wrong api_id: 200, transient) holds for every number in it;
    // the messages left out keep their own outcomes.
    let refused = br#"{"status":"ERROR","status_code":200,"status_text":"bad api_id"}"#;
    let outcomes = batch.outcomes(&p, Ok((200, &refused[..])));
    for at in [0, 2] {
        assert!(
            matches!(&outcomes[at], SendOutcome::Transient(why) if why.contains("200")),
            "{outcomes:?}"
        );
    }
    assert!(matches!(&outcomes[1], SendOutcome::Permanent(why) if why.contains("phone")));
    assert!(matches!(&outcomes[3], SendOutcome::Transient(why) if why.contains("same request")));

    // A number the answer leaves out may have been taken: sent again, not failed.
    let short = json!({"status": "OK", "status_code": 100, "sms": {
        "79161234567": {"status": "OK", "status_code": 100, "sms_id": "000000-1"},
    }})
    .to_string();
    let outcomes = batch.outcomes(&p, Ok((200, short.as_bytes())));
    assert!(matches!(&outcomes[0], SendOutcome::Accepted { .. }));
    assert!(
        matches!(&outcomes[2], SendOutcome::Transient(why)
            if why.contains("/sms/*******1122") && !why.contains("79990001122")),
        "{:?}",
        outcomes[2]
    );
}
