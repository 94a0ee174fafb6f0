//! Proof bundles on both backends: a verdict for every case (on time, late, unconfirmed,
//! not delivered), the ZIP checked offline by the README's recipe (jq and sha256sum
//! only, `tests/verify_offline.sh`), the one-page certificate, and who may ask. The
//! purge is in `tests/retention.rs`.

mod common;

use common::bundles::{
    Auditor, DAY_MS, accepted, export_ledger, intent, report, unzip, verify_offline,
};
use common::{Backend, TestApp, spawn_app};
use serde_json::{Value, json};

both_backends! {
    each_recipient_gets_the_verdict_its_facts_support;
    the_zip_bundle_verifies_offline_and_tampering_is_caught;
    the_certificate_is_one_page_of_facts_in_russian;
    only_auditors_and_admins_get_proofs_and_bad_requests_name_the_field;
}

/// Recipients: 0 delivered before the deadline, 1 after it, 2 a letter with no report,
/// 3 failed.
async fn four_verdicts(app: &TestApp, auditor: &Auditor<'_>) -> String {
    let id = accepted(app, &intent(&["email", "email", "mail", "email"])).await;
    let bundle = auditor.json(&format!("/v1/intents/{id}/proof")).await;
    let deadline = bundle["recipients"][0]["deadline"]["at_ms"]
        .as_i64()
        .unwrap();
    report(app, &id, 0, "delivered", deadline - DAY_MS).await;
    report(app, &id, 1, "delivered", deadline + 3_600_000).await;
    report(app, &id, 3, "failed", deadline - DAY_MS).await;
    id
}

async fn each_recipient_gets_the_verdict_its_facts_support(backend: Backend) {
    let app = spawn_app(backend).await;
    let auditor = Auditor::new(&app).await;
    let id = four_verdicts(&app, &auditor).await;
    let expected = [
        "delivered_on_time",
        "delivered_late",
        "unconfirmed",
        "not_delivered",
    ];
    for (idx, verdict) in expected.iter().enumerate() {
        let bundle = auditor
            .json(&format!("/v1/intents/{id}/recipients/{idx}/proof"))
            .await;
        let recipients = bundle["recipients"].as_array().unwrap();
        assert_eq!(recipients.len(), 1);
        let r = &recipients[0];
        assert_eq!(r["verdict"], *verdict, "recipient {idx}: {r}");
        assert_eq!(r["idx"], idx);
        // The deadline, its rule and the ledger entry that recorded them.
        assert!(r["deadline"]["rule"]["source"].is_string(), "{r}");
        assert!(r["deadline"]["ledger_seq"].as_i64().unwrap() > 1);
        let m = &r["messages"][0];
        assert_eq!(m["content_sha256"].as_str().unwrap().len(), 64);
        assert!(m["content"]["file"].is_string(), "{m}");
        // Only this recipient's messages' entries, plus the intent's own.
        let entries = bundle["ledger"]["entries"].as_array().unwrap();
        assert_eq!(entries[0]["entry"]["kind"], "intent_accepted");
        for e in entries {
            if let Some(message_id) = e["entry"]["message_id"].as_str() {
                assert_eq!(message_id, m["id"]);
            }
        }
        let receipts = m["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), usize::from(idx != 2));
    }
    let whole = auditor.json(&format!("/v1/intents/{id}/proof")).await;
    let verdicts: Vec<&str> = whole["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, expected);
}

/// Unpacks a ZIP into `dir`.
async fn the_zip_bundle_verifies_offline_and_tampering_is_caught(backend: Backend) {
    let app = spawn_app(backend).await;
    let auditor = Auditor::new(&app).await;
    let id = four_verdicts(&app, &auditor).await;
    let response = auditor
        .get(&format!("/v1/intents/{id}/proof?format=zip"), None)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let zip = response.bytes().await.unwrap();
    // The Accept header asks for the same.
    let again = auditor
        .get(&format!("/v1/intents/{id}/proof"), Some("application/zip"))
        .await;
    assert_eq!(again.headers()["content-type"], "application/zip");

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("bundle");
    unzip(&zip, &dir);
    assert!(dir.join("certificate.pdf").exists());
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.join("bundle.json")).unwrap()).unwrap();
    // The email as an .eml, the letter as its PDF: the exact bytes whose hash was recorded.
    let files: Vec<&str> = bundle["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messages"][0]["content"]["file"].as_str().unwrap())
        .collect();
    assert!(
        files[0].ends_with(".eml") && files[2].ends_with(".pdf"),
        "{files:?}"
    );
    assert!(
        std::fs::read(dir.join(files[2]))
            .unwrap()
            .starts_with(b"%PDF-")
    );

    let ledger = work.path().join("ledger.jsonl");
    export_ledger(&app, &ledger);
    let (ok, out) = verify_offline(&dir, Some(&ledger));
    assert!(ok, "{out}");
    assert!(
        out.contains("OK: ") && out.contains("4 messages, 3 reports checked"),
        "{out}"
    );

    // A stored message changed after the fact.
    let eml = dir.join(files[0]);
    let original = std::fs::read(&eml).unwrap();
    std::fs::write(&eml, [original.as_slice(), b" "].concat()).unwrap();
    let (ok, out) = verify_offline(&dir, None);
    assert!(
        !ok && out.contains("differs from what the ledger recorded"),
        "{out}"
    );
    std::fs::write(&eml, &original).unwrap();

    // A verdict changed in the JSON: the ledger's facts contradict it.
    let mut forged = bundle.clone();
    forged["recipients"][1]["verdict"] = json!("delivered_on_time");
    std::fs::write(dir.join("bundle.json"), forged.to_string()).unwrap();
    let (ok, out) = verify_offline(&dir, None);
    assert!(
        !ok && out.contains("recipient 1: delivered_on_time contradicts"),
        "{out}"
    );

    // A ledger entry changed in the JSON (the intent's first; template seeding came
    // before it in the chain).
    let mut forged = bundle.clone();
    let first = &forged["ledger"]["entries"][0];
    assert_eq!(first["entry"]["kind"], "intent_accepted", "{first}");
    let seq = first["seq"].clone();
    forged["ledger"]["entries"][0]["entry"]["data"]["request_sha256"] = json!("0".repeat(64));
    std::fs::write(dir.join("bundle.json"), forged.to_string()).unwrap();
    let (ok, out) = verify_offline(&dir, None);
    assert!(
        !ok && out.contains(&format!("ledger entry {seq}: its content hashes to")),
        "{out}"
    );
}

async fn the_certificate_is_one_page_of_facts_in_russian(backend: Backend) {
    let app = spawn_app(backend).await;
    let auditor = Auditor::new(&app).await;
    let id = four_verdicts(&app, &auditor).await;
    let bundle = auditor
        .json(&format!("/v1/intents/{id}/recipients/0/proof"))
        .await;
    let response = auditor
        .get(
            &format!("/v1/intents/{id}/recipients/0/proof?format=pdf"),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap().to_vec();
    assert_eq!(
        lopdf::Document::load_mem(&pdf).unwrap().get_pages().len(),
        1
    );
    let text = pdf_extract::extract_text_from_mem(&pdf).unwrap();
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Сертификат доставки уведомления"), "{flat}");
    assert!(flat.contains("доставлено в срок"), "{flat}");
    let hash = bundle["recipients"][0]["messages"][0]["content_sha256"]
        .as_str()
        .unwrap();
    assert!(flat.replace(' ', "").contains(hash), "{flat}");
    assert!(
        flat.replace(' ', "")
            .contains(bundle["ledger"]["head"]["hash"].as_str().unwrap())
    );
}

async fn only_auditors_and_admins_get_proofs_and_bad_requests_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = accepted(&app, &intent(&["email"])).await;
    // The ingest token that posted the intent may not read its proof.
    let (status, _) = app.get_json(&format!("/v1/intents/{id}/proof")).await;
    assert_eq!(status, 403);
    let auditor = Auditor::new(&app).await;
    for (path, field) in [
        (format!("/v1/intents/{id}/proof?format=docx"), "format"),
        (format!("/v1/intents/{id}/proof?fromat=zip"), "fromat"),
        (format!("/v1/intents/{id}/recipients/first/proof"), "rid"),
    ] {
        let response = auditor.get(&path, None).await;
        assert_eq!(response.status(), 422, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert_eq!(
        auditor
            .get(&format!("/v1/intents/{id}/recipients/1/proof"), None)
            .await
            .status(),
        404
    );
    assert_eq!(
        auditor.get("/v1/intents/nope/proof", None).await.status(),
        404
    );
}
