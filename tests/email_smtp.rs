//! Email through a real SMTP conversation with a server on loopback: the bytes it receives,
//! the relay's reply kept as the gateway id, 5xx failing at once, 4xx retried.

mod common;

use common::smtp_sink::SmtpSink;
use common::{Backend, TestApp, example, spawn_app_with};
use serde_json::{Value, json};
use vestnik::intents::IntentKind;
use vestnik::settings::GatewayName;

both_backends! {
    an_email_reaches_the_relay_with_encoded_headers_both_parts_and_every_mandatory_field;
    a_refused_recipient_fails_at_once_and_a_deferral_is_retried;
    a_dkim_signed_email_verifies_against_the_published_key;
    the_letter_rides_along_as_a_pdf_attachment;
}

async fn app_with(backend: Backend, sink: &SmtpSink) -> TestApp {
    let port = sink.port;
    spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.port = port;
        s.smtp.pool_size = 2;
    })
    .await
}

fn email(intent: &Value, recipient: usize) -> Value {
    intent["recipients"][recipient]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "email")
        .unwrap()
        .clone()
}

async fn an_email_reaches_the_relay_with_encoded_headers_both_parts_and_every_mandatory_field(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let app = app_with(backend, &sink).await;
    let mut body = example("tariff_change");
    body["recipients"] = json!([body["recipients"][0].clone()]); // email first: the legal notice
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "sent the email", |i| email(i, 0)["status"] == "sent")
        .await;
    let sent = email(&intent, 0);
    assert_eq!(sent["gateway"], "smtp");
    assert_eq!(
        sent["gateway_message_id"],
        "250 2.0.0 Ok: queued as SINK00001"
    );

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let raw = &received[0].data;
    assert_eq!(
        received[0].to,
        vec![format!(
            "<{}>",
            body["recipients"][0]["contacts"]["email"].as_str().unwrap()
        )]
    );
    let head = String::from_utf8_lossy(raw);
    assert!(
        head.contains("Subject: =?utf-8?"),
        "RFC 2047 encoded subject:\n{head}"
    );
    assert!(head.contains("multipart/alternative"));
    let message = mail_parser::MessageParser::default().parse(raw).unwrap();
    let message_id = sent["message_id"].as_str().unwrap();
    assert!(
        message.message_id().unwrap().starts_with(message_id),
        "our Message-ID"
    );
    assert!(
        message.subject().unwrap().contains("тариф"),
        "{:?}",
        message.subject()
    );
    assert_eq!(
        message.to().unwrap().first().unwrap().name().unwrap(),
        body["recipients"][0]["name"].as_str().unwrap()
    );
    let text = message.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(!message.body_html(0).unwrap().is_empty());
    for needle in common::notices::mandatory_texts(
        IntentKind::TariffChange,
        &body["event"],
        &body["recipients"][0],
        "ООО «РУСЭНЕРГОСБЫТ»",
    ) {
        assert!(text.contains(&needle), "email lacks {needle:?}");
    }
    use sha2::Digest;
    // SMTP framing ends the data with CRLF before the final dot; the message is the rest.
    let message_bytes = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    assert_eq!(
        sent["content_sha256"],
        hex::encode(sha2::Sha256::digest(message_bytes)),
        "the hash kept for the proof is of the exact bytes the relay received"
    );
    // The ledger's attempt holds the digests of the DATA sent and of the relay's reply.
    let entries = app.db.ledger_page(0, 1000).await.unwrap();
    let attempt: serde_json::Value = entries
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
        .find(|e| e["kind"] == "message_attempt" && e["message_id"] == message_id)
        .unwrap();
    assert_eq!(
        attempt["data"]["request_sha256"],
        hex::encode(sha2::Sha256::digest(message_bytes))
    );
    assert_eq!(
        attempt["data"]["response_sha256"],
        hex::encode(sha2::Sha256::digest(b"250 2.0.0 Ok: queued as SINK00001"))
    );
    app.stop().await;
}

async fn a_refused_recipient_fails_at_once_and_a_deferral_is_retried(backend: Backend) {
    let sink = SmtpSink::start().await;
    let app = app_with(backend, &sink).await;
    sink.reject_recipients_containing("nobody@");
    let mut body = example("tariff_change");
    let mut refused = body["recipients"][0].clone();
    refused["contacts"]["email"] = json!("nobody@example.ru");
    body["recipients"] = json!([refused]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "failed the email", |i| {
            email(i, 0)["status"] == "failed"
        })
        .await;
    let failed = email(&intent, 0);
    assert_eq!(failed["attempts"], 1, "a 5xx is not retried");
    assert!(
        failed["reason"].as_str().unwrap().contains("550"),
        "{failed}"
    );

    sink.defer_next(2);
    let mut body = example("tariff_change");
    body["external_id"] = json!("tariff-deferred");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "sent after deferrals", |i| {
            email(i, 0)["status"] == "sent"
        })
        .await;
    assert_eq!(email(&intent, 0)["attempts"], 3, "two 451s, then accepted");
    assert_eq!(sink.received().len(), 1);
    app.stop().await;
}

async fn a_dkim_signed_email_verifies_against_the_published_key(backend: Backend) {
    use base64::Engine;
    let sink = SmtpSink::start().await;
    let seed = [7u8; 32];
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("dkim.key");
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode(seed),
    )
    .unwrap();
    let port = sink.port;
    let app = spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.port = port;
        s.smtp.dkim.selector = "vestnik2026".into();
        s.smtp.dkim.algorithm = vestnik::settings::DkimAlgorithm::Ed25519;
        s.smtp.dkim.key_file = key_file;
    })
    .await;
    let mut body = example("tariff_change");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "sent the email", |i| email(i, 0)["status"] == "sent")
        .await;
    let raw = &sink.received()[0].data;
    let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
    let tags = common::dkim::verify(raw, &public).unwrap_or_else(|e| {
        panic!("DKIM: {e}\n{}", String::from_utf8_lossy(raw));
    });
    let tag = |k: &str| tags.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(tag("s"), "vestnik2026");
    assert_eq!(
        tag("d"),
        "rusenergosbyt.example",
        "organization.email's domain"
    );
    assert!(tag("h").to_ascii_lowercase().contains("message-id"));

    // One changed byte in the body and the signature no longer holds.
    let mut tampered = raw.clone();
    let at = tampered.len() - 10;
    tampered[at] ^= 1;
    assert!(common::dkim::verify(&tampered, &public).is_err());

    use sha2::Digest;
    let message_bytes = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    assert_eq!(
        email(&intent, 0)["content_sha256"],
        hex::encode(sha2::Sha256::digest(message_bytes)),
        "the proof hashes the signed bytes"
    );
    app.stop().await;
}

async fn the_letter_rides_along_as_a_pdf_attachment(backend: Backend) {
    let sink = SmtpSink::start().await;
    let port = sink.port;
    let app = spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.port = port;
        s.letters.attach_to_email = true;
    })
    .await;
    let mut body = example("tariff_change");
    body["recipients"] = json!([body["recipients"][0].clone()]);
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    app.wait_for(id, "sent the email", |i| email(i, 0)["status"] == "sent")
        .await;
    let raw = &sink.received()[0].data;
    let message = mail_parser::MessageParser::default().parse(raw).unwrap();
    assert!(
        !message.body_text(0).unwrap().is_empty(),
        "the text part stays"
    );
    use mail_parser::MimeHeaders;
    let attachment = message.attachment(0).expect("one attachment");
    assert_eq!(attachment.attachment_name(), Some("letter.pdf"));
    let pdf = attachment.contents();
    assert!(pdf.starts_with(b"%PDF-"));
    let text: String = pdf_extract::extract_text_from_mem(pdf)
        .unwrap()
        .split_whitespace()
        .collect();
    let account: String = body["recipients"][0]["account_number"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .collect();
    assert!(text.contains(&account), "the letter names the account");
    // The attachment lives in the stored `.eml` only, which the retention purge clears.
    assert!(
        common::files(&app.dir.path().join("documents")).is_empty(),
        "no separate copy of the attached letter is left in the documents store"
    );
    app.stop().await;
}
