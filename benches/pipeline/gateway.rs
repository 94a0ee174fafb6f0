//! A fast fake SMS gateway on loopback, speaking the generic-json contract
//! (`channels/generic-json.toml`): `POST /messages` with `Authorization: Bearer TOKEN` and
//! `{"to","text","client_id","sender"}` → `200 {"id": "…"}`, and `POST /messages/batch`
//! with `{"messages": [those]}` → `200 {"messages": [{"id": "…"}, …]}` in the same order.
//!
//! It stands in for the provider in every SMS scenario and for the peers, so that what is
//! measured is the dispatcher, not a network or a provider. It does as little as it can
//! per request: one bearer comparison, one small JSON parse, one push into one of many
//! sharded vectors (a request never waits behind another for a lock, in practice), and a
//! tiny answer. The provider id is derived from `client_id`, so the same `client_id` twice
//! gets the same id (the contract's idempotency) without a lookup table.
//!
//! It can also answer slowly, like a provider across the internet: it takes each request
//! as it arrives and answers after a fixed latency (the slow-gateway scenarios, where the
//! requests a worker keeps in flight bind, not the database).
//!
//! Optionally it posts delivery reports back to Vestnik (`POST /v1/receipts/generic-json`,
//! `{"id","status":"delivered","time"}`, signed `X-Signature: sha256=<hex HMAC-SHA256>`),
//! like a provider would a little later: each report waits until [`REPORT_DELAY`] after
//! its send was accepted (so it does not outrun Vestnik's commit of the send, which the
//! receipts endpoint would otherwise wait for), reports are taken off the queue in batches
//! and posted [`REPORT_CONCURRENCY`] at a time, one report per POST as the contract has it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};

use crate::Result;

/// The credentials Vestnik's profile names as `${GENERIC_SMS_TOKEN}` and
/// `${GENERIC_SMS_WEBHOOK_SECRET}`; peers get the token on their command line.
pub const TOKEN: &str = "bench-generic-token-3f1c9a";
pub const WEBHOOK_SECRET: &str = "bench-generic-webhook-secret-8d2e41";

/// Vectors arrivals are pushed into; a request picks the next one round robin.
const SHARDS: usize = 64;
/// A report is posted no sooner than this after its send was accepted.
pub const REPORT_DELAY: Duration = Duration::from_millis(500);
/// Reports in flight at once.
pub const REPORT_CONCURRENCY: usize = 16;
/// A report answered 404 (Vestnik has not recorded the send yet) is posted again after
/// this, up to [`REPORT_TRIES`] times.
const REPORT_RETRY_AFTER: Duration = Duration::from_millis(500);
const REPORT_TRIES: u32 = 20;

/// One accepted send.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    pub client_id: String,
    pub to: String,
}

#[derive(Default)]
pub struct ReportStats {
    /// Reports Vestnik answered 2xx.
    pub recorded: AtomicU64,
    /// Posts answered 404 and retried.
    pub retried: AtomicU64,
    /// Reports given up (other status, transport error, or 404 too often).
    pub failed: AtomicU64,
}

struct Shared {
    authorization: String,
    shards: Vec<Mutex<Vec<Arrival>>>,
    next_shard: AtomicUsize,
    accepted: AtomicUsize,
    refused: AtomicUsize,
    /// Set once, when reports are switched on; read without a lock on every send.
    reports: OnceLock<mpsc::UnboundedSender<(Instant, String)>>,
    /// How long after a request arrived it is answered.
    latency: Duration,
}

pub struct Gateway {
    /// `http://127.0.0.1:PORT`: the `sms.base_url` Vestnik is given (the profile appends
    /// `/messages`).
    pub base_url: String,
    shared: Arc<Shared>,
    pub report_stats: Arc<ReportStats>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Gateway {
    /// Starts the gateway on the current tokio runtime, on a free loopback port; it
    /// answers each request `latency` after it arrived.
    pub async fn start(latency: Duration) -> Result<Gateway> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            authorization: format!("Bearer {TOKEN}"),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            next_shard: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            reports: OnceLock::new(),
            latency,
        });
        let router = axum::Router::new()
            .route("/messages", axum::routing::post(send))
            .route("/messages/batch", axum::routing::post(send_batch))
            .with_state(shared.clone());
        // Small request/response pairs on keep-alive connections: without TCP_NODELAY
        // Nagle's algorithm would add delayed-ACK stalls to every answer.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("fake gateway stopped: {e}");
            }
        });
        Ok(Gateway {
            base_url: format!("http://127.0.0.1:{port}"),
            shared,
            report_stats: Arc::new(ReportStats::default()),
            tasks: vec![server],
        })
    }

    /// From now on, every accepted send is reported `delivered` to `receipts_url`.
    pub fn report_to(&mut self, receipts_url: String) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.shared.reports.set(tx).is_err() {
            eprintln!("fake gateway: reports were switched on already");
            return;
        }
        let stats = self.report_stats.clone();
        self.tasks
            .push(tokio::spawn(reporter(rx, receipts_url, stats)));
    }

    /// Sends accepted so far (repeats of one `client_id` included).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Requests refused (bad token or body): there should be none.
    pub fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Every accepted send so far, in no particular order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        let mut all = Vec::with_capacity(self.accepted());
        for shard in &self.shared.shards {
            all.extend(shard.lock().expect("gateway state").iter().cloned());
        }
        all
    }

    /// The first arrival of each `client_id` (a resend after a lost answer is the same
    /// message), and how many arrivals were repeats.
    pub fn first_arrivals(&self) -> (Vec<Arrival>, usize) {
        let mut all = self.arrivals();
        let total = all.len();
        all.sort_unstable_by(|a, b| a.client_id.cmp(&b.client_id).then(a.at.cmp(&b.at)));
        all.dedup_by(|later, first| later.client_id == first.client_id);
        let repeats = total - all.len();
        (all, repeats)
    }
}

#[derive(Deserialize)]
struct Sms {
    to: String,
    text: String,
    client_id: String,
}

#[derive(Deserialize)]
struct Batch {
    messages: Vec<Sms>,
}

async fn send(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let at = Instant::now();
    let answer = authorize(&shared, &headers)
        .and_then(|()| parse::<Sms>(&shared, &body))
        .and_then(|sms| accept(&shared, at, sms));
    answer_after(&shared, at).await;
    match answer {
        Ok(id) => json(StatusCode::OK, serde_json::json!({ "id": id })),
        Err(refusal) => refusal.answer(),
    }
}

/// One answer per message, in order, as the contract says.
async fn send_batch(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let batch = match authorize(&shared, &headers).and_then(|()| parse::<Batch>(&shared, &body)) {
        Ok(batch) => batch,
        Err(refusal) => return refusal.answer(),
    };
    let answers: Vec<serde_json::Value> = batch
        .messages
        .into_iter()
        .map(|sms| match accept(&shared, at, sms) {
            Ok(id) => serde_json::json!({ "id": id }),
            Err(refusal) => refusal.body(),
        })
        .collect();
    answer_after(&shared, at).await;
    json(StatusCode::OK, serde_json::json!({ "messages": answers }))
}

/// Waits until the gateway's latency has passed since the request arrived at `at`.
async fn answer_after(shared: &Shared, at: Instant) {
    if !shared.latency.is_zero() {
        tokio::time::sleep_until((at + shared.latency).into()).await;
    }
}

/// A refused request or message, counted when made: the contract's error answer.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn new(shared: &Shared, status: StatusCode, code: &'static str, message: String) -> Self {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        Refusal {
            status,
            code,
            message,
        }
    }

    fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }

    fn answer(self) -> Response {
        json(self.status, self.body())
    }
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Refusal> {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == shared.authorization.as_bytes());
    if authorized {
        return Ok(());
    }
    Err(Refusal::new(
        shared,
        StatusCode::UNAUTHORIZED,
        "forbidden",
        "bad bearer token".into(),
    ))
}

fn parse<T: serde::de::DeserializeOwned>(shared: &Shared, body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| Refusal::new(shared, StatusCode::BAD_REQUEST, "rejected", e.to_string()))
}

/// Records one accepted SMS and returns its provider id.
fn accept(shared: &Shared, at: Instant, sms: Sms) -> Result<String, Refusal> {
    if sms.to.is_empty() || sms.text.is_empty() || sms.client_id.is_empty() {
        return Err(Refusal::new(
            shared,
            StatusCode::BAD_REQUEST,
            "rejected",
            "to, text and client_id are required".into(),
        ));
    }
    let id = format!("fk-{}", sms.client_id);
    if let Some(reports) = shared.reports.get() {
        let _ = reports.send((at, id.clone()));
    }
    let shard = shared.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS;
    shared.shards[shard]
        .lock()
        .expect("gateway state")
        .push(Arrival {
            at,
            client_id: sms.client_id,
            to: sms.to,
        });
    shared.accepted.fetch_add(1, Ordering::Relaxed);
    Ok(id)
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Drains accepted ids in batches, waits out [`REPORT_DELAY`] for each, and posts their
/// reports at most [`REPORT_CONCURRENCY`] at a time.
async fn reporter(
    mut queue: mpsc::UnboundedReceiver<(Instant, String)>,
    url: String,
    stats: Arc<ReportStats>,
) {
    vestnik::channels::install_crypto_provider();
    let http = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(REPORT_CONCURRENCY)
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            eprintln!("fake gateway: no HTTP client for reports: {e}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(REPORT_CONCURRENCY));
    let mut batch = Vec::with_capacity(1024);
    while queue.recv_many(&mut batch, 1024).await > 0 {
        for (accepted_at, id) in batch.drain(..) {
            tokio::time::sleep_until((accepted_at + REPORT_DELAY).into()).await;
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (http, url, stats) = (http.clone(), url.clone(), stats.clone());
            tokio::spawn(async move {
                post_report(&http, &url, &id, &stats).await;
                drop(slot);
            });
        }
    }
}

async fn post_report(http: &reqwest::Client, url: &str, id: &str, stats: &ReportStats) {
    let body = serde_json::json!({
        "id": id,
        "status": "delivered",
        "time": chrono::Utc::now().to_rfc3339(),
    })
    .to_string();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).expect("any key length");
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    for _ in 0..REPORT_TRIES {
        let answer = http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-Signature", &signature)
            .body(body.clone())
            .send()
            .await;
        match answer.map(|r| r.status()) {
            Ok(s) if s.is_success() => {
                stats.recorded.fetch_add(1, Ordering::Relaxed);
                return;
            }
            // Vestnik has not recorded the send yet (and has waited for it a while).
            Ok(StatusCode::NOT_FOUND) => {
                stats.retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(REPORT_RETRY_AFTER).await;
            }
            Ok(other) => {
                eprintln!("fake gateway: report for {id} answered {other}");
                break;
            }
            Err(e) => {
                eprintln!("fake gateway: report for {id}: {e}");
                break;
            }
        }
    }
    stats.failed.fetch_add(1, Ordering::Relaxed);
}
