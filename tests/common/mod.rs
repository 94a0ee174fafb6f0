//! Test harness: a real Vestnik on a random port with its own database and outbox.
//!
//! Every test gets a fresh SQLite file or a fresh PostgreSQL database (created on
//! `VESTNIK_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`, dropped after).
#![allow(dead_code)]

pub mod bundles;
pub mod dkim;
pub mod fake_fax;
pub mod fake_mail;
pub mod fake_sms;
pub mod notices;
pub mod smtp_sink;
pub mod templates;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use vestnik::app::App;
use vestnik::auth::{self, Role};
use vestnik::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed `async fn name(backend: Backend)` once per backend, as
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident;)+) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            }
        )+
    };
}

pub fn pg_admin_url() -> String {
    std::env::var("VESTNIK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend, dir: &Path) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.join("vestnik.db").display()),
                pg_name: None,
            },
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = format!("vestnik_test_{}", uuid::Uuid::now_v7().simple());
                let pool = sqlx::PgPool::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL tests need a server: cannot connect to {admin} ({e}). \
                         Start PostgreSQL or point VESTNIK_TEST_PG_URL at one (a user allowed to CREATE DATABASE)."
                    )
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await
                    .expect("CREATE DATABASE");
                pool.close().await;
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_owned())
                    .unwrap_or(admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                }
            });
        })
        .join();
    }
}

pub fn test_settings(dir: &Path, db_url: &str) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.database.url = db_url.to_owned();
    settings.outbox.dir = dir.join("outbox");
    settings.letters.documents_dir = dir.join("documents");
    settings.templates.dir = repo_path("templates");
    settings.auth.admin_token_file = dir.join("admin.token");
    settings.deadlines.calendar_dir = repo_path("config/calendar");
    settings.deadlines.policies_file = repo_path("config/policies.toml");
    settings.deadlines.plans_file = write_plans(dir, |_| {});
    settings.dispatch.poll_interval_ms = 20;
    settings.dispatch.backoff_base_ms = 50;
    settings.dispatch.backoff_max_secs = 1;
    settings
}

/// The shipped channel plans, minus sending windows (tests must not depend on the hour
/// they run at; windows have tests of their own), changed by `edit`, written into `dir`.
pub fn write_plans(dir: &Path, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let shipped = std::fs::read_to_string(repo_path("config/channel_plans.toml")).unwrap();
    let mut plans: toml::Table = shipped.parse().unwrap();
    plans.remove("windows");
    edit(&mut plans);
    let path = dir.join(format!(
        "channel_plans-{}.toml",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::write(&path, toml::to_string(&plans).unwrap()).unwrap();
    path
}

/// An HTTP client for tests (after installing the crypto provider reqwest needs).
pub fn http_client() -> reqwest::Client {
    vestnik::channels::install_crypto_provider();
    reqwest::Client::new()
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub struct TestApp {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub db: vestnik::storage::Db,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _test_db: TestDb,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_clocked(backend, vestnik::clock::Clock::system(), tweak).await
}

/// An app whose dispatch, sweeper and intake plan by `clock`.
pub async fn spawn_app_clocked(
    backend: Backend,
    clock: vestnik::clock::Clock,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn_app_on(listener, backend, clock, |_, s| tweak(s)).await
}

/// A listener for an app whose settings must know its own URL (callback URLs given to
/// gateways), with that URL.
pub async fn app_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (listener, base)
}

/// An app serving on `listener`; `tweak` gets the app's base URL.
pub async fn spawn_app_on(
    listener: tokio::net::TcpListener,
    backend: Backend,
    clock: vestnik::clock::Clock,
    tweak: impl FnOnce(&str, &mut Settings),
) -> TestApp {
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new(backend, dir.path()).await;
    let mut settings = test_settings(dir.path(), &test_db.url);
    tweak(&base, &mut settings);
    let app = App::build_with_clock(settings, clock)
        .await
        .expect("app builds");
    let token = auth::create_token(&app.db, "billing", Role::Ingest)
        .await
        .unwrap();
    let db = app.db.clone();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.serve(listener, shutdown.clone()));
    TestApp {
        base,
        token,
        http: http_client(),
        dir,
        db,
        shutdown,
        server: Some(server),
        _test_db: test_db,
    }
}

impl TestApp {
    /// The app's database URL, for running the `vestnik` binary against it.
    pub fn db_url(&self) -> &str {
        &self._test_db.url
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    pub async fn token_for(&self, name: &str, role: Role) -> String {
        auth::create_token(&self.db, name, role).await.unwrap()
    }

    pub async fn post_intent(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/intents", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts an intent that must be accepted; its id.
    pub async fn accept(&self, body: &Value) -> String {
        let response = self.post_intent(body).await;
        let status = response.status().as_u16();
        let accepted: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "{accepted}");
        accepted["id"].as_str().unwrap().to_owned()
    }

    /// Posts an intent that must be refused as invalid (`422`, `problem+json`); the problem.
    pub async fn refuse(&self, body: &Value) -> Value {
        let response = self.post_intent(body).await;
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"].clone();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{problem}");
        assert_eq!(content_type, "application/problem+json");
        problem
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> String {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Waits until no message of the intent is queued or sending, and returns the intent.
    pub async fn wait_settled(&self, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, intent) = self
                .get_json(&format!("/v1/intents/{id}?per_page=1000"))
                .await;
            assert_eq!(status, 200, "{intent}");
            let counts = &intent["status_counts"];
            let busy =
                counts["queued"].as_i64().unwrap_or(0) + counts["sending"].as_i64().unwrap_or(0);
            if busy == 0 {
                return intent;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "intent {id} did not settle: {counts}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the intent until `done` holds for it (every message listed on one page).
    pub async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let (_, intent) = self
                .get_json(&format!("/v1/intents/{id}?per_page=1000"))
                .await;
            if done(&intent) {
                return intent;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "never {what}: {intent}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Every message of an intent as listed by `GET /v1/intents/{id}`.
pub fn messages(intent: &Value) -> Vec<&Value> {
    intent["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["channels"].as_array().unwrap())
        .collect()
}

/// Recipient `recipient`'s message on `channel`, as listed by `GET /v1/intents/{id}`.
pub fn channel<'a>(intent: &'a Value, recipient: usize, channel: &str) -> &'a Value {
    intent["recipients"][recipient]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == channel)
        .unwrap()
}

/// The SMS messages of an intent as listed by `GET /v1/intents/{id}`.
pub fn sms_messages(intent: &Value) -> Vec<Value> {
    messages(intent)
        .into_iter()
        .filter(|m| m["channel"] == "sms")
        .cloned()
        .collect()
}

/// A meter visit for `n` individual recipients, reached by SMS (then email), each with its
/// own account and phone.
pub fn meter_visits(n: usize) -> Value {
    let mut body = example("meter_visit");
    let template = body["recipients"][0].clone();
    body["recipients"] = (0..n)
        .map(|i| {
            let mut r = template.clone();
            r["account_number"] = json!(format!("54000{i:05}"));
            r["contacts"]["phone"] = json!(format!("+791300{i:05}"));
            r
        })
        .collect();
    body
}

/// The fields a `problem+json` answer names, in its order.
pub fn problem_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("a problem with errors")
        .iter()
        .map(|e| e["field"].as_str().expect("each error names its field"))
        .collect()
}

pub fn example(kind: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(&format!("examples/{kind}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// An axum app served on a free loopback port until dropped: the fake gateways' server.
pub struct Loopback {
    pub addr: std::net::SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Loopback {
    pub async fn serve(app: axum::Router) -> Loopback {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("loopback address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake server");
        });
        Loopback { addr, server }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A child process (the real `vestnik` binary) killed if the test ends without stopping
/// it: a failed assertion must not leave it running and writing into a deleted directory.
pub struct Spawned(pub std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A meter visit to `n` recipients by SMS alone (its SMS carries every mandatory field, so
/// it is the legal notice), phones `+7916` and the recipient's number.
pub fn sms_mailing(n: usize) -> Value {
    mailing(n, "sms", |i| json!({"phone": format!("+7916{i:07}")}))
}

/// A meter visit to `n` recipients by email alone, `reader<i>@example.ru`.
pub fn email_mailing(n: usize) -> Value {
    mailing(
        n,
        "email",
        |i| json!({"email": format!("reader{i}@example.ru")}),
    )
}

/// A meter visit to `n` recipients by `channel` alone, recipient `i` at `contacts(i)`.
fn mailing(n: usize, channel: &str, contacts: impl Fn(usize) -> Value) -> Value {
    let mut body = meter_visits(n);
    for (i, r) in body["recipients"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        r["channels"] = json!([channel]);
        r["contacts"] = contacts(i);
    }
    body
}

/// A copy of the shipped `channels/` in `dir`, with `[limits] key = value` in every profile
/// (a short timeout, a higher rate).
pub fn profiles_with_limit(dir: &Path, key: &str, value: i64) -> PathBuf {
    let out = dir.join("channels");
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(repo_path("channels")).unwrap() {
        let path = entry.unwrap().path();
        let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        if let Some(limits) = table.get_mut("limits").and_then(|l| l.as_table_mut()) {
            limits.insert(key.into(), toml::Value::Integer(value));
        }
        std::fs::write(
            out.join(path.file_name().unwrap()),
            toml::to_string(&table).unwrap(),
        )
        .unwrap();
    }
    out
}

/// Every file under `dir`, recursively, as (path, contents).
pub fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            match std::fs::read(&path) {
                Ok(bytes) => out.push((path.clone(), bytes)),
                // A file being written is renamed into place from a temporary name; it
                // may be gone between listing and reading.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("{}: {e}", path.display()),
            }
        }
    }
    out
}
