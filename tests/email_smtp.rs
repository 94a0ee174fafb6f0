//! Email through a real SMTP conversation with a server on loopback: the bytes it receives,
//! the relay's reply kept as the gateway id, 5xx failing at once, 4xx retried; STARTTLS and
//! implicit TLS with AUTH against a certificate the test makes, connections reused.

mod common;

use common::smtp_sink::{SmtpSink, Tls};
use common::{Backend, TestApp, example, spawn_app_with};
use serde_json::{Value, json};
use vestnik::intents::IntentKind;
use vestnik::settings::GatewayName;

both_backends! {
    an_email_reaches_the_relay_with_encoded_headers_both_parts_and_every_mandatory_field;
    a_refused_recipient_fails_at_once_and_a_deferral_is_retried;
    a_dkim_signed_email_verifies_against_the_published_key;
    the_letter_rides_along_as_a_pdf_attachment;
    emails_go_over_starttls_after_login_on_reused_connections;
    emails_go_over_implicit_tls_after_login;
    a_refused_login_or_a_relay_without_starttls_leaves_the_email_waiting;
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
    common::channel(intent, recipient, "email").clone()
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

/// An app that sends through `sink` with `tls`, trusting the sink's certificate.
async fn secure_app(
    backend: Backend,
    sink: &SmtpSink,
    tls: vestnik::settings::SmtpTls,
    password: &str,
    dir: &std::path::Path,
) -> TestApp {
    let ca_file = dir.join("relay.pem");
    std::fs::write(&ca_file, &sink.certificate_pem).unwrap();
    let (port, password) = (sink.port, password.to_owned());
    spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.host = "127.0.0.1".into();
        s.smtp.port = port;
        s.smtp.tls = tls;
        s.smtp.ca_file = ca_file;
        s.smtp.username = "vestnik".into();
        s.smtp.password = password.into();
        s.smtp.pool_size = 2;
    })
    .await
}

async fn emails_go_over_starttls_after_login_on_reused_connections(backend: Backend) {
    emails_over_tls(backend, Tls::Starttls).await
}

async fn emails_go_over_implicit_tls_after_login(backend: Backend) {
    // lettre opens these sockets itself; TCP_NODELAY is set on them from outside.
    emails_over_tls(backend, Tls::Implicit).await
}

/// 12 emails through a sink that speaks `tls` and wants a login: all accepted, encrypted,
/// over at most `pool_size` connections, each with TCP_NODELAY.
async fn emails_over_tls(backend: Backend, tls: Tls) {
    let sink = SmtpSink::start_secure(tls, "vestnik", "s3cret").await;
    let dir = tempfile::tempdir().unwrap();
    let mode = match tls {
        Tls::Starttls => vestnik::settings::SmtpTls::Starttls,
        Tls::Implicit => vestnik::settings::SmtpTls::Implicit,
    };
    let app = secure_app(backend, &sink, mode, "s3cret", dir.path()).await;
    let id = app.accept(&common::email_mailing(12)).await;
    let intent = app.wait_settled(&id).await;
    for message in common::messages(&intent) {
        assert_eq!(message["status"], "sent", "{message}");
        assert!(
            message["gateway_message_id"]
                .as_str()
                .unwrap()
                .starts_with("250 ")
        );
    }
    let received = sink.received();
    assert_eq!(received.len(), 12);
    assert!(
        received.iter().all(|r| r.encrypted),
        "every message over TLS"
    );
    let mut to: Vec<_> = received.iter().flat_map(|r| r.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 12, "each address once");
    assert!(
        sink.sessions() <= 2,
        "12 messages over at most pool_size connections, not {}",
        sink.sessions()
    );
    let nodelay = nodelay_to(sink.port);
    assert!(
        !nodelay.is_empty() && nodelay.iter().all(|on| *on),
        "the pooled connections have TCP_NODELAY: {nodelay:?}"
    );
    app.stop().await;
}

async fn a_refused_login_or_a_relay_without_starttls_leaves_the_email_waiting(backend: Backend) {
    // A wrong password: the relay's 535 is about our setup, not the message, so the
    // message is not failed; it waits for the next attempt.
    let sink = SmtpSink::start_secure(Tls::Starttls, "vestnik", "s3cret").await;
    let dir = tempfile::tempdir().unwrap();
    let app = secure_app(
        backend,
        &sink,
        vestnik::settings::SmtpTls::Starttls,
        "wrong",
        dir.path(),
    )
    .await;
    let message = first_attempt(&app).await;
    assert_ne!(message["status"], "failed", "{message}");
    assert_ne!(message["status"], "sent", "{message}");
    let reason = message["reason"].as_str().unwrap();
    assert!(
        reason.contains("relay connection") && reason.contains("535"),
        "{reason}"
    );
    assert!(sink.received().is_empty());
    app.stop().await;

    // STARTTLS required but the relay does not offer it: never plain text instead.
    let plain = SmtpSink::start().await;
    let port = plain.port;
    let app = spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.port = port;
        s.smtp.tls = vestnik::settings::SmtpTls::Starttls;
    })
    .await;
    let message = first_attempt(&app).await;
    assert_ne!(message["status"], "sent", "{message}");
    assert!(
        message["reason"].as_str().unwrap().contains("STARTTLS"),
        "{message}"
    );
    assert!(plain.received().is_empty(), "nothing sent in plain text");
    app.stop().await;

    // The relay's certificate is checked: without smtp.ca_file nothing trusts this one.
    let untrusted = SmtpSink::start_secure(Tls::Implicit, "vestnik", "s3cret").await;
    let port = untrusted.port;
    let app = spawn_app_with(backend, move |s| {
        s.channels.email = GatewayName::Smtp;
        s.smtp.port = port;
        s.smtp.tls = vestnik::settings::SmtpTls::Implicit;
        s.smtp.username = "vestnik".into();
        s.smtp.password = "s3cret".to_owned().into();
    })
    .await;
    let message = first_attempt(&app).await;
    assert_ne!(message["status"], "sent", "{message}");
    assert!(
        message["reason"].as_str().unwrap().contains("certificate"),
        "{message}"
    );
    assert!(untrusted.received().is_empty());
    app.stop().await;
}

/// Posts one email and returns it once its first attempt has left a reason.
async fn first_attempt(app: &TestApp) -> Value {
    let id = app.accept(&common::email_mailing(1)).await;
    let intent = app
        .wait_for(&id, "tried the email", |i| {
            common::messages(i)[0]["reason"].is_string()
        })
        .await;
    common::messages(&intent)[0].clone()
}

/// TCP_NODELAY on each of this process's sockets connected to `port` (the app runs in the
/// test's process).
fn nodelay_to(port: u16) -> Vec<bool> {
    use std::os::fd::{BorrowedFd, RawFd};
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<RawFd>().ok())
        .filter_map(|fd| {
            // SAFETY: borrowed for two calls only; a descriptor closed meanwhile fails them.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let socket = socket2::SockRef::from(&fd);
            let peer = socket.peer_addr().ok()?.as_socket()?;
            (peer.port() == port).then(|| socket.tcp_nodelay().unwrap_or(false))
        })
        .collect()
}
