//! Proof bundles on both backends: a verdict for every case (on time, late, unconfirmed,
//! not delivered), the ZIP checked offline by the README's recipe (jq and sha256sum
//! only, `tests/verify_offline.sh`), the one-page certificate, who may ask, and the
//! retention purge after which a bundle still verifies and says what was purged.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Backend, TestApp, example, repo_path, spawn_app, spawn_app_clocked};
use serde_json::{Value, json};
use vestnik::auth::Role;
use vestnik::clock::Clock;
use vestnik::storage::{NewReceipt, ReceiptOutcome};

both_backends! {
    each_recipient_gets_the_verdict_its_facts_support;
    the_zip_bundle_verifies_offline_and_tampering_is_caught;
    the_certificate_is_one_page_of_facts_in_russian;
    only_auditors_and_admins_get_proofs_and_bad_requests_name_the_field;
    after_the_retention_purge_a_bundle_still_verifies_and_says_what_was_purged;
}

const DAY_MS: i64 = 86_400_000;

/// A planned outage for recipients with the given channels (one legal channel each).
fn intent(channels: &[&str]) -> Value {
    let mut body = example("planned_outage");
    let template = body["recipients"][0].clone();
    let recipients: Vec<Value> = channels
        .iter()
        .enumerate()
        .map(|(i, channel)| {
            let mut r = template.clone();
            r["account_number"] = json!(format!("770123456{i}"));
            r["channels"] = json!([channel]);
            r
        })
        .collect();
    body["recipients"] = json!(recipients);
    body
}

async fn accepted(app: &TestApp, body: &Value) -> String {
    let response: Value = app.post_intent(body).await.json().await.unwrap();
    let id = response["id"].as_str().unwrap().to_owned();
    app.wait_settled(&id).await;
    id
}

struct Auditor<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Auditor<'a> {
    async fn new(app: &'a TestApp) -> Self {
        Self {
            token: app.token_for("audit", Role::Auditor).await,
            app,
        }
    }

    async fn get(&self, path: &str, accept: Option<&str>) -> reqwest::Response {
        let mut request = self
            .app
            .http
            .get(format!("{}{path}", self.app.base))
            .bearer_auth(&self.token);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send().await.unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let response = self.get(path, None).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// The message of recipient `idx` as the intent lists it.
async fn message(app: &TestApp, id: &str, idx: usize) -> Value {
    let intent = app.get_json(&format!("/v1/intents/{id}")).await.1;
    intent["recipients"][idx]["channels"][0].clone()
}

/// A report from the outbox "gateway" for recipient `idx`'s message, as a provider would send.
async fn report(app: &TestApp, id: &str, idx: usize, status: &str, at: i64) {
    let m = message(app, id, idx).await;
    let raw = json!({"id": m["gateway_message_id"], "status": status, "time": at}).to_string();
    let outcome = app
        .db
        .record_receipt(&NewReceipt {
            gateway: "outbox",
            provider_message_id: m["gateway_message_id"].as_str().unwrap(),
            status,
            provider_status: &status.to_uppercase(),
            provider_time: Some(at),
            raw: &raw,
            reason: None,
            evidence_sha256: None,
            retry_at: 0,
            max_attempts: 8,
            batch: 500,
        })
        .await
        .unwrap();
    assert_eq!(outcome, ReceiptOutcome::Recorded { applied: true });
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
fn unzip(bytes: &[u8], dir: &Path) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    archive.extract(dir).unwrap();
}

/// Runs the offline recipe; (success, stdout + stderr).
fn verify_offline(dir: &Path, ledger: Option<&Path>) -> (bool, String) {
    let mut command = Command::new("sh");
    command.arg(repo_path("tests/verify_offline.sh")).arg(dir);
    if let Some(ledger) = ledger {
        command.arg(ledger);
    }
    let out = command.output().expect("sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn export_ledger(app: &TestApp, to: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .args(["ledger", "export"])
        .env("VESTNIK_DATABASE__URL", app.db_url())
        .current_dir(repo_path(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(to, out.stdout).unwrap();
}

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

    // A ledger entry changed in the JSON.
    let mut forged = bundle.clone();
    forged["ledger"]["entries"][0]["entry"]["data"]["request_sha256"] = json!("0".repeat(64));
    std::fs::write(dir.join("bundle.json"), forged.to_string()).unwrap();
    let (ok, out) = verify_offline(&dir, None);
    assert!(
        !ok && out.contains("ledger entry 1: its content hashes to"),
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

async fn after_the_retention_purge_a_bundle_still_verifies_and_says_what_was_purged(
    backend: Backend,
) {
    let start = chrono::Utc::now();
    let clock = Clock::fake(start);
    let app = spawn_app_clocked(backend, clock.clone(), |s| {
        // A sweep every half second.
        s.dispatch.lease_secs = 2;
        s.retention.personal_data_after = Duration::from_secs(30 * 86_400);
    })
    .await;
    let auditor = Auditor::new(&app).await;
    let id = accepted(&app, &intent(&["email", "mail"])).await;
    report(&app, &id, 0, "delivered", start.timestamp_millis()).await;
    let before = auditor.json(&format!("/v1/intents/{id}/proof")).await;
    assert_eq!(before["purged"], Value::Null);
    let letter = before["recipients"][1]["messages"][0]["content_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let documents = app.dir.path().join("documents");
    assert!(
        documents
            .join(&letter[..2])
            .join(format!("{letter}.pdf"))
            .exists()
    );

    // 29 days on nothing is purged; 31 days on the sweep purges it.
    clock.set(start + chrono::Duration::days(29));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        auditor.json(&format!("/v1/intents/{id}/proof")).await["purged"],
        Value::Null
    );
    clock.set(start + chrono::Duration::days(31));
    let started = Instant::now();
    let after = loop {
        let bundle = auditor.json(&format!("/v1/intents/{id}/proof")).await;
        if !bundle["purged"].is_null() {
            break bundle;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        after["purged"]["parts"],
        json!([
            "recipients.name",
            "recipients.contacts",
            "messages.content",
            "receipts.raw",
            "documents"
        ])
    );
    for r in after["recipients"].as_array().unwrap() {
        assert_eq!(r["name"], "[purged]");
        assert_eq!(r["contacts"], "[purged]");
        let m = &r["messages"][0];
        assert_eq!(m["content"], json!({"purged": true}), "{m}");
        // What was sent and when is still proven by its hash.
        assert_eq!(
            m["content_sha256"],
            before["recipients"][r["idx"].as_u64().unwrap() as usize]["messages"][0]["content_sha256"]
        );
        assert!(m["sent_at"].is_string());
    }
    assert_eq!(after["recipients"][0]["verdict"], "delivered_on_time");
    assert_eq!(
        after["recipients"][0]["messages"][0]["receipts"][0]["raw"],
        json!({"purged": true})
    );
    assert!(
        !documents
            .join(&letter[..2])
            .join(format!("{letter}.pdf"))
            .exists()
    );
    let text = after.to_string();
    assert!(
        !text.contains("Иванова") && !text.contains("m.ivanova@example.ru"),
        "{text}"
    );
    // The purge is a ledger fact, and the chain is intact.
    let purge = after["ledger"]["entries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(purge["entry"]["kind"], "personal_data_purged");
    assert_eq!(app.db.verify_ledger().await.unwrap().1, None);

    let zip = auditor
        .get(&format!("/v1/intents/{id}/proof?format=zip"), None)
        .await
        .bytes()
        .await
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("bundle");
    unzip(&zip, &dir);
    assert!(!dir.join("content").exists(), "no stored body left to ship");
    let ledger = work.path().join("ledger.jsonl");
    export_ledger(&app, &ledger);
    let (ok, out) = verify_offline(&dir, Some(&ledger));
    assert!(ok, "{out}");
    assert!(
        out.contains("purged: recipients.name, recipients.contacts"),
        "{out}"
    );

    // `vestnik purge` finds nothing left to do.
    let cli = Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .arg("purge")
        .env("VESTNIK_DATABASE__URL", app.db_url())
        .env("VESTNIK_LETTERS__DOCUMENTS_DIR", &documents)
        .current_dir(repo_path(""))
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(
        String::from_utf8_lossy(&cli.stdout).contains("purged the personal data of 0 intent(s)")
    );
}
