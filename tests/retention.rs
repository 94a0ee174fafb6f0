//! The retention purge under a fake clock, on both backends: nothing before its time;
//! after it, names, contact points, stored bodies, raw reports and letters are gone while
//! the ledger keeps the hashes, so the bundle still verifies offline and says what was
//! purged.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::bundles::{Auditor, accepted, export_ledger, intent, report, verify_offline};
use common::{Backend, repo_path, spawn_app_clocked};
use serde_json::{Value, json};
use vestnik::clock::Clock;

both_backends! {
    after_the_retention_purge_a_bundle_still_verifies_and_says_what_was_purged;
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

    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("bundle");
    auditor.unzipped(&id, &dir).await;
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
