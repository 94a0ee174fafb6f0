//! `kill -9` mid-dispatch loses nothing: the real binary is killed and restarted, and every
//! accepted recipient still reaches the outbox.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, Spawned, TestDb, repo_path};
use serde_json::{Value, json};

both_backends! {
    sigkill_mid_dispatch_loses_no_accepted_recipient;
}

const RECIPIENTS: usize = 20_000;

fn start(dir: &Path, db_url: &str, port: u16) -> Spawned {
    Spawned(start_child(dir, db_url, port))
}

fn start_child(dir: &Path, db_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vestnik"))
        .arg("serve")
        .env("VESTNIK_DATABASE__URL", db_url)
        .env("VESTNIK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("VESTNIK_OUTBOX__DIR", dir.join("outbox"))
        .env("VESTNIK_TEMPLATES__DIR", repo_path("templates"))
        .env(
            "VESTNIK_DEADLINES__CALENDAR_DIR",
            repo_path("config/calendar"),
        )
        .env(
            "VESTNIK_DEADLINES__POLICIES_FILE",
            repo_path("config/policies.toml"),
        )
        .env(
            "VESTNIK_DEADLINES__PLANS_FILE",
            common::write_plans(dir, |_| {}),
        )
        .env("VESTNIK_AUTH__ADMIN_TOKEN_FILE", dir.join("admin.token"))
        // Small batches and a short lease so the test sees many jobs in flight and
        // recovers the killed process's claims quickly.
        .env("VESTNIK_DISPATCH__BATCH_SIZE", "100")
        .env("VESTNIK_DISPATCH__LEASE_SECS", "2")
        .env("VESTNIK_DISPATCH__HEARTBEAT_SECS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("vestnik binary starts")
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("vestnik did not become healthy at {base}");
}

fn outbox_count(dir: &Path) -> usize {
    common::files(&dir.join("outbox/sms"))
        .iter()
        .filter(|(path, _)| path.extension().is_some_and(|x| x == "json"))
        .count()
}

async fn sigkill_mid_dispatch_loses_no_accepted_recipient(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(backend, dir.path()).await;
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = common::http_client();

    let mut server = start(dir.path(), &db.url, port);
    wait_healthy(&http, &base).await;
    let token = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();

    let body = common::sms_mailing(RECIPIENTS);
    let response = http
        .post(format!("{base}/v1/intents"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Kill it once some, but not all, messages are out.
    let started = Instant::now();
    loop {
        let n = outbox_count(dir.path());
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "dispatch never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    let at_kill = outbox_count(dir.path());
    assert!(
        at_kill < RECIPIENTS,
        "killed too late to prove anything ({at_kill} already out)"
    );

    let mut server = start(dir.path(), &db.url, port);
    wait_healthy(&http, &base).await;
    let started = Instant::now();
    let counts = loop {
        let intent: Value = http
            .get(format!("{base}/v1/intents/{id}?per_page=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let counts = intent["status_counts"].clone();
        if counts["sent"] == RECIPIENTS {
            break counts;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not all sent after restart: {counts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(counts, json!({"sent": RECIPIENTS}));
    assert_eq!(
        outbox_count(dir.path()),
        RECIPIENTS,
        "every recipient's file is in the outbox"
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(server.0.id().to_string())
        .status();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "graceful shutdown on SIGTERM: {status:?}");
}
