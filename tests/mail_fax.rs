//! Letters end to end: an intent with mail and fax → a typeset PDF at the fake hybrid-mail
//! and fax providers on loopback → their tracking events and fax results as receipts →
//! statuses in GET /v1/intents, with the PDF and any return-receipt scan kept by hash.

mod common;

use common::fake_fax::{FakeFax, FaxResult};
use common::fake_mail::{FakeMail, MailEvent};
use common::{Backend, TestApp, app_listener, example, spawn_app_on};
use serde_json::{Value, json};
use sha2::Digest;
use vestnik::settings::GatewayName;

both_backends! {
    a_letter_is_tracked_to_delivery_and_returned_unclaimed_counts_as_delivered;
    a_fax_busy_twice_is_sent_again_and_delivered;
    a_precompiled_letter_is_checked_at_intake_and_sent_as_is;
}

async fn app_with(backend: Backend, mail: &FakeMail, fax: &FakeFax) -> TestApp {
    let (listener, _) = app_listener().await;
    let mut secrets = mail.secrets();
    secrets.extend(fax.secrets());
    let (mail_url, fax_url) = (mail.base_url.clone(), fax.base_url.clone());
    spawn_app_on(
        listener,
        backend,
        vestnik::clock::Clock::system(),
        move |base, s| {
            s.channels.mail = GatewayName::Profile;
            s.channels.fax = GatewayName::Profile;
            s.sms.profiles_dir = common::repo_path("channels");
            s.sms.secrets = secrets.into_iter().map(|(k, v)| (k, v.into())).collect();
            s.mail.base_url = mail_url;
            s.mail.callback_url = format!("{base}/v1/receipts/hybrid-mail");
            s.fax.base_url = fax_url;
            s.fax.callback_url = format!("{base}/v1/receipts/phaxio");
            s.dispatch.gateway_retry_after = std::time::Duration::from_millis(200);
            s.dispatch.lease_secs = 2;
        },
    )
    .await
}

/// The planned-outage example, one recipient, by `channel` only.
fn outage(recipient: usize, channel: &str, external_id: &str) -> Value {
    let mut body = example("planned_outage");
    let mut r = body["recipients"][recipient].clone();
    r["channels"] = json!([channel]);
    body["recipients"] = json!([r]);
    body["external_id"] = json!(external_id);
    body
}

fn only_message(intent: &Value) -> Value {
    common::messages(intent)[0].clone()
}

async fn a_letter_is_tracked_to_delivery_and_returned_unclaimed_counts_as_delivered(
    backend: Backend,
) {
    let mail = FakeMail::start().await;
    let fax = FakeFax::start().await;
    let app = app_with(backend, &mail, &fax).await;
    let webhook = format!("{}/v1/receipts/hybrid-mail", app.base);

    let body = outage(0, "mail", "outage-letter-1");
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "letter handed over", |i| {
            only_message(i)["status"] == "sent"
        })
        .await;
    let sent = only_message(&intent);
    assert_eq!(sent["gateway"], "mail:hybrid-mail");

    let submissions = mail.submissions();
    assert_eq!(submissions.len(), 1);
    let letter = &submissions[0];
    assert_eq!(letter.id, sent["gateway_message_id"]);
    assert_eq!(
        letter.client_id, sent["message_id"],
        "our id as the client id"
    );
    let recipient = &body["recipients"][0];
    assert_eq!(letter.name, recipient["name"]);
    assert_eq!(
        letter.postcode,
        recipient["contacts"]["postal_address"]["postcode"]
    );
    // The PDF that went out is the one hashed and kept for the proof.
    let sha = hex::encode(sha2::Sha256::digest(&letter.pdf));
    assert_eq!(sent["content_sha256"], sha);
    let kept = app
        .dir
        .path()
        .join("documents")
        .join(&sha[..2])
        .join(format!("{sha}.pdf"));
    assert_eq!(std::fs::read(&kept).unwrap(), letter.pdf);
    let text = pdf_extract::extract_text_from_mem(&letter.pdf).unwrap();
    let squeezed: String = text.split_whitespace().collect();
    for needle in [
        recipient["name"].as_str().unwrap(),
        body["event"]["work_kind"].as_str().unwrap(),
        "ООО «РУСЭНЕРГОСБЫТ»",
    ] {
        let needle: String = needle.split_whitespace().collect();
        assert!(squeezed.contains(&needle), "the PDF lacks {needle}");
    }

    // In transit: still sent. Then returned unclaimed: delivered (Civil Code art. 165.1)
    // on the event's date, with the scanned return receipt kept.
    for event in [
        MailEvent::Accepted,
        MailEvent::InTransit,
        MailEvent::Arrived,
    ] {
        let status = mail
            .event(
                &webhook,
                &letter.id,
                event,
                "2026-12-01T10:00:00+03:00",
                None,
            )
            .await;
        assert_eq!(status, 200, "{event:?}");
    }
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(only_message(&intent)["status"], "sent");
    let scan = b"%PDF-1.4 scanned return receipt".to_vec();
    let status = mail
        .event(
            &webhook,
            &letter.id,
            MailEvent::ReturnedUnclaimed,
            "2027-01-10T12:00:00+03:00",
            Some(&scan),
        )
        .await;
    assert_eq!(status, 200);
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    let delivered = only_message(&intent);
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    assert_eq!(delivered["delivered_at"], "2027-01-10T09:00:00.000Z");
    assert!(
        delivered["reason"].as_str().unwrap().contains("165.1"),
        "{delivered}"
    );
    let scan_sha = hex::encode(sha2::Sha256::digest(&scan));
    let scan_path = app
        .dir
        .path()
        .join("documents")
        .join(&scan_sha[..2])
        .join(format!("{scan_sha}.pdf"));
    assert_eq!(std::fs::read(scan_path).unwrap(), scan);

    // Refused by the addressee and returned: not delivered.
    let accepted: Value = app
        .post_intent(&outage(0, "mail", "outage-letter-2"))
        .await
        .json()
        .await
        .unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "letter handed over", |i| {
            only_message(i)["status"] == "sent"
        })
        .await;
    let provider_id = only_message(&intent)["gateway_message_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = mail
        .event(
            &webhook,
            &provider_id,
            MailEvent::ReturnedRefused,
            "2027-01-05T12:00:00+03:00",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, intent) = app.get_json(&format!("/v1/intents/{id}")).await;
    assert_eq!(only_message(&intent)["status"], "failed");
    app.stop().await;
}

async fn a_fax_busy_twice_is_sent_again_and_delivered(backend: Backend) {
    let mail = FakeMail::start().await;
    let fax = FakeFax::start().await;
    let body = outage(1, "fax", "outage-fax-1");
    let number = body["recipients"][0]["contacts"]["fax"]
        .as_str()
        .unwrap()
        .to_owned();
    fax.script(
        &number,
        [FaxResult::Busy, FaxResult::Busy, FaxResult::Success],
    );
    let app = app_with(backend, &mail, &fax).await;
    let accepted: Value = app.post_intent(&body).await.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "fax delivered", |i| {
            only_message(i)["status"] == "delivered"
        })
        .await;
    let delivered = only_message(&intent);
    assert_eq!(delivered["gateway"], "fax:phaxio");
    assert_eq!(
        delivered["attempts"], 3,
        "busy, busy, delivered: {delivered}"
    );
    let faxes = fax.faxes();
    assert_eq!(faxes.len(), 3);
    assert!(faxes.iter().all(|f| f.pdf.starts_with(b"%PDF-")));
    assert_eq!(
        delivered["gateway_message_id"],
        faxes[2].id.to_string(),
        "the last fax is the one delivered"
    );
    let message_id = delivered["message_id"].as_str().unwrap();
    assert_eq!(
        app.db.receipt_count(message_id).await.unwrap(),
        3,
        "every result is kept as evidence"
    );
    app.stop().await;
}

/// A letter the caller typeset itself, addressed to `recipient`.
fn own_letter(recipient: &Value) -> Vec<u8> {
    use vestnik::letters::{Letter, RecipientBlock, Sender, Signatory};
    let postal = &recipient["contacts"]["postal_address"];
    let letter = Letter {
        sender: Sender {
            name: "ООО «РУСЭНЕРГОСБЫТ»".into(),
            address: "101000, г. Москва, ул. Примерная, д. 1".into(),
            phone: "+7 (800) 100-00-00".into(),
            email: "info@rusenergosbyt.example".into(),
            website: "https://rusenergosbyt.example".into(),
        },
        outgoing_number: "ДО-17/204".into(),
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        recipient: RecipientBlock {
            name: recipient["name"].as_str().unwrap().into(),
            address: postal["address"].as_str().unwrap().into(),
            postcode: postal["postcode"].as_str().unwrap().into(),
        },
        body: "# Ответ на обращение\n\nПисьмо подготовлено в системе документооборота.".into(),
        signatory: Signatory {
            position: "Начальник отдела".into(),
            name: "И. И. Петров".into(),
        },
        executor: None,
    };
    vestnik::letters::render(&letter, &Default::default()).unwrap()
}

async fn a_precompiled_letter_is_checked_at_intake_and_sent_as_is(backend: Backend) {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mail = FakeMail::start().await;
    let fax = FakeFax::start().await;
    let app = app_with(backend, &mail, &fax).await;

    // US Letter with an advert near the edge: refused, each problem named with its code.
    let mut body = outage(0, "mail", "outage-own-bad");
    let bad = std::fs::read(common::repo_path("tests/data/libreoffice-letter.pdf")).unwrap();
    body["recipients"][0]["letter_pdf"] = json!(b64(&bad));
    let problem = app.refuse(&body).await;
    let reasons: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["field"] == "recipients[0].letter_pdf")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("page_size:")),
        "{problem}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("outside_printable_area:")),
        "{problem}"
    );
    assert!(mail.submissions().is_empty(), "nothing sent");

    // Not a PDF at all.
    body["recipients"][0]["letter_pdf"] = json!(b64(b"hello"));
    assert_eq!(app.post_intent(&body).await.status(), 422);

    // A good one goes to the print house byte for byte.
    let mut body = outage(0, "mail", "outage-own-good");
    let own = own_letter(&body["recipients"][0]);
    body["recipients"][0]["letter_pdf"] = json!(b64(&own));
    let response = app.post_intent(&body).await;
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    let intent = app
        .wait_for(id, "letter handed over", |i| {
            only_message(i)["status"] == "sent"
        })
        .await;
    assert_eq!(mail.submissions()[0].pdf, own);
    assert_eq!(
        only_message(&intent)["content_sha256"],
        hex::encode(sha2::Sha256::digest(&own))
    );
    app.stop().await;
}
