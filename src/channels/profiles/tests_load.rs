//! Load errors, phone checks, HMAC vectors and form decoding.

use super::tests::{GENERIC, MSG, SMSC, SMSRU, load, options};
use super::*;

#[test]
fn bad_phone_is_a_build_error() {
    let p = load(GENERIC);
    let m = SmsMessage { to: "12-34", ..MSG };
    assert!(matches!(p.build_send(m), Err(BuildError::BadPhone(_))));
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    let cases: [(&[u8], &[u8], &str); 3] = [
        (
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ];
    for (key, data, expected) in cases {
        assert_eq!(hex::encode(webhook::hmac_sha256(key, data)), expected);
    }
    assert!(
        webhook::constant_time_eq(b"abc", b"abc") && !webhook::constant_time_eq(b"abc", b"abd")
    );
}

fn load_error(text: &str) -> ProfileError {
    Profile::load("bad.toml", text, &options()).expect_err("must not load")
}

#[test]
fn load_errors_name_the_key() {
    let e = load_error(&SMSRU.replace("[send.response]", "[send.response]\nmesage_id = \"/x\""));
    assert_eq!(e.key, "send.response.mesage_id", "{e}");
    assert!(e.message.contains("unknown field `mesage_id`"), "{e}");
    assert!(e.message.starts_with("line "), "{e}");
    let e = load_error(&GENERIC.replace(r#"type = "bearer""#, r#"type = "bearer", tokn = "x""#));
    assert!(
        e.key.starts_with("send.auth") && e.message.contains("tokn"),
        "{e}"
    );
    let e = load_error(&SMSRU.replace("${SMSRU_API_ID}", "${SMSRU_MISSING}"));
    assert_eq!(
        (e.key.as_str(), e.message.as_str()),
        ("send.fields.api_id", "secret ${SMSRU_MISSING} is not set")
    );
    let e = load_error(&SMSRU.replace("{{text}}", "{{txt}}"));
    assert_eq!(e.key, "send.fields.msg", "{e}");
    let e = load_error(&SMSRU.replace(r#"status = "/2""#, r#"status = "2""#));
    assert_eq!(e.key, "receipts.status", "{e}");
    let e = load_error(&SMSC.replace(r#"failed = ["20..=25"]"#, r#"failed = ["25..=20"]"#));
    assert_eq!(e.key, "statuses.failed", "{e}");
    let e = load_error(&SMSRU.replace(r#"kind = "sms""#, r#"kind = "telegram""#));
    assert_eq!(e.key, "kind", "{e}");
    // A fax gets no `text` (nor `to`): an SMS profile relabelled fails on its first use
    // (its batch aside, which a fax profile may not have at all).
    let (head, rest) = SMSRU.split_once("[send_batch]").unwrap();
    let single = format!("{head}{}", &rest[rest.find("[poll]").unwrap()..]);
    let e = load_error(&single.replace(r#"kind = "sms""#, r#"kind = "fax""#));
    assert_eq!(e.key, "send.fields.msg", "{e}");
    assert!(e.message.contains("text"), "{e}");
    let e = load_error(
        &GENERIC
            .replace("generic-json", "g")
            .replace("GENERIC_SMS_WEBHOOK_SECRET", "SHORT"),
    );
    assert!(e.message.contains("SHORT"), "{e}");
    let display = load_error(&SMSRU.replace("${SMSRU_API_ID}", "${SMSRU_WEBHOOK_TOKEN}x{{nope}}"))
        .to_string();
    assert!(!display.contains("smsru-token-0123456789"), "{display}");
}

#[test]
fn base_url_override_and_form_arrays() {
    let opts = LoadOptions {
        base_url: Some("http://127.0.0.1:9/".into()),
        ..options()
    };
    let p = Profile::load("x", SMSRU, &opts).unwrap();
    assert_eq!(
        p.build_send(MSG).unwrap().url,
        "http://127.0.0.1:9/sms/send"
    );
    let v = webhook::form_to_value(b"data[0]=a&data[1]=b&x=1&x=2");
    assert_eq!(v, serde_json::json!({"data": ["a", "b"], "x": "2"}));
}
