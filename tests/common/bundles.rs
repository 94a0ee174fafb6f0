//! Helpers for the proof-bundle tests: intents with one legal channel per recipient, an
//! auditor's client, gateway reports, unpacking a ZIP and running the offline recipe.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use vestnik::auth::Role;
use vestnik::storage::{NewReceipt, ReceiptOutcome};

use super::{TestApp, example, repo_path};

pub const DAY_MS: i64 = 86_400_000;

/// A planned outage for recipients with the given channels (one legal channel each).
pub fn intent(channels: &[&str]) -> Value {
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

pub async fn accepted(app: &TestApp, body: &Value) -> String {
    let response: Value = app.post_intent(body).await.json().await.unwrap();
    let id = response["id"].as_str().unwrap().to_owned();
    app.wait_settled(&id).await;
    id
}

pub struct Auditor<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl<'a> Auditor<'a> {
    pub async fn new(app: &'a TestApp) -> Self {
        Self {
            token: app.token_for("audit", Role::Auditor).await,
            app,
        }
    }

    pub async fn get(&self, path: &str, accept: Option<&str>) -> reqwest::Response {
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

    /// The intent's proof bundle as a ZIP, unpacked into `dir`.
    pub async fn unzipped(&self, id: &str, dir: &Path) {
        let response = self
            .get(&format!("/v1/intents/{id}/proof?format=zip"), None)
            .await;
        assert_eq!(response.status(), 200);
        unzip(&response.bytes().await.unwrap(), dir);
    }

    pub async fn json(&self, path: &str) -> Value {
        let response = self.get(path, None).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// The message of recipient `idx` as the intent lists it.
pub async fn message(app: &TestApp, id: &str, idx: usize) -> Value {
    let intent = app.get_json(&format!("/v1/intents/{id}")).await.1;
    intent["recipients"][idx]["channels"][0].clone()
}

/// A report from the outbox "gateway" for recipient `idx`'s message, as a provider would send.
pub async fn report(app: &TestApp, id: &str, idx: usize, status: &str, at: i64) {
    let m = message(app, id, idx).await;
    let outcome = receive(app, &m, status, Some(at)).await;
    assert!(
        matches!(outcome, ReceiptOutcome::Recorded { applied: true, .. }),
        "{outcome:?}"
    );
}

/// Records a report of `status` about `message` (as `GET /v1/intents/{id}` lists it) from
/// its own gateway.
pub async fn receive(
    app: &TestApp,
    message: &Value,
    status: &str,
    at: Option<i64>,
) -> ReceiptOutcome {
    let provider_id = message["gateway_message_id"].as_str().unwrap();
    let raw = json!({"id": provider_id, "status": status, "time": at}).to_string();
    app.db
        .record_receipt(&NewReceipt {
            gateway: message["gateway"].as_str().unwrap(),
            provider_message_id: provider_id,
            status,
            provider_status: &status.to_uppercase(),
            provider_time: at,
            raw: &raw,
            reason: None,
            evidence_sha256: None,
            retry_at: 0,
            max_attempts: 8,
            batch: 500,
        })
        .await
        .unwrap()
}

/// Unpacks a ZIP into `dir`.
pub fn unzip(bytes: &[u8], dir: &Path) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    archive.extract(dir).unwrap();
}

/// Runs the offline recipe; (success, stdout + stderr).
pub fn verify_offline(dir: &Path, ledger: Option<&Path>) -> (bool, String) {
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

pub fn export_ledger(app: &TestApp, to: &Path) {
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
