//! `[send_batch]`: building one request for several SMS and reading its answer per message.

use serde_json::{Value, json};

use super::tests::{GENERIC, MSG, SMSRU, load, options};
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
    assert_eq!(load(SMSRU).batch_max(), 1);
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
    assert_eq!(
        outcomes[0],
        SendOutcome::Accepted {
            provider_message_id: "p-1".into(),
            tracking_number: None
        }
    );
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
    // A batch is made of [send]'s JSON fields: a form [send] cannot have one.
    let smsru_with_batch = format!(
        "{SMSRU}\n[send_batch]\nmax = 100\nurl = \"{{{{base_url}}}}/x\"\nitems = \"m\"\nresults = \"/m\"\n"
    );
    let e = load_error(&smsru_with_batch);
    assert_eq!(e.key, "send_batch.items", "{e}");
}
