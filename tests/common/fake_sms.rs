//! Fake SMS gateways on loopback, each speaking its provider's documented format (see the
//! header of `channels/<profile>.toml`): they check credentials and required fields, answer
//! like the provider, record what they got, fail on request, post delivery reports
//! (signed or tokened as the provider would) and answer status polls. Batches too: generic
//! JSON's `POST /messages/batch` and SMS.ru's `to[<phone>]=<text>` fields on `/sms/send`,
//! each message in them treated as the same message sent alone would be.
//!
//! ```ignore
//! let fake = FakeProvider::start(Provider::SmsRu).await;
//! // load channels/smsru.toml with fake.secrets() and base_url = fake.base_url
//! fake.fail_next(2, Fault::Http500);
//! fake.auto_report(receipts_url, Report::Delivered);
//! ```
//! Independent of Vestnik's profile engine on purpose: it is the other side of the wire.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    SmsRu,
    Smsc,
    SmsAero,
    GenericJson,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::SmsRu,
        Provider::Smsc,
        Provider::SmsAero,
        Provider::GenericJson,
    ];

    /// The profile file in `channels/` this fake stands in for.
    pub fn profile_file(self) -> &'static str {
        match self {
            Provider::SmsRu => "smsru.toml",
            Provider::Smsc => "smsc.toml",
            Provider::SmsAero => "smsaero.toml",
            Provider::GenericJson => "generic-json.toml",
        }
    }
}

/// How the next sends fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    Http500,
    /// Answers normally after this long (beyond the client's timeout: a timeout).
    Slow(Duration),
    /// HTTP 200 with a body that is not the provider's format.
    Malformed,
    /// The provider's error for an undeliverable number.
    Permanent,
    /// The provider's "busy / try later" error.
    Busy,
    /// Accepts, and never reports (polls stay pending).
    Silent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Delivered,
    Failed,
    Expired,
    Pending,
}

/// How a posted report authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Valid,
    Missing,
    Wrong,
}

/// One accepted send.
#[derive(Debug, Clone)]
pub struct Received {
    pub provider_id: String,
    pub to: String,
    pub text: String,
    pub sender: Option<String>,
    /// Our id, where the API takes one (SMSC `id`, generic `client_id`).
    pub client_id: Option<String>,
    pub callback_url: Option<String>,
    /// When the request arrived, for rate checks.
    pub at: std::time::Instant,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    requests: usize,
    faults: VecDeque<Fault>,
    sticky: Option<Fault>,
    /// provider id → (status code, phone, silent)
    statuses: HashMap<String, (String, String, bool)>,
    by_client_id: HashMap<String, String>,
    /// Sends of a `client_id` already accepted (generic JSON): answered with the first
    /// id, not sent again, kept to count the sender's duplicates.
    repeats: Vec<Received>,
    auto: Option<(String, Report)>,
    next_id: u64,
    /// Messages per batch request (generic JSON `POST /messages/batch`, SMS.ru `to[…]`), in
    /// order; an SMS.ru request refused whole still counts, so an oversized one shows.
    batches: Vec<usize>,
}

struct Shared {
    provider: Provider,
    inner: Mutex<Inner>,
}

pub struct FakeProvider {
    pub provider: Provider,
    /// Put this in the profile's `base_url`.
    pub base_url: String,
    shared: Arc<Shared>,
    _server: super::Loopback,
}

const SMSRU_API_ID: &str = "fake-smsru-api-id";
const SMSC_LOGIN: (&str, &str) = ("fake-smsc", "fake-smsc-password");
/// `Basic base64("fake@smsaero.test:fake-aero-key")`.
const AERO_AUTH: &str = "Basic ZmFrZUBzbXNhZXJvLnRlc3Q6ZmFrZS1hZXJvLWtleQ==";
const GENERIC_TOKEN: &str = "fake-generic-token";
const WEBHOOK_TOKEN: &str = "fake-webhook-token-0123456789";
const GENERIC_SECRET: &str = "fake-generic-hmac-secret-0123456789";
/// Numbers per SMS.ru request (its code 207 covers "more than 100 numbers").
const SMSRU_BULK_MAX: usize = 100;

impl FakeProvider {
    pub async fn start(provider: Provider) -> FakeProvider {
        let shared = Arc::new(Shared {
            provider,
            inner: Mutex::new(Inner::default()),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let server = super::Loopback::serve(app).await;
        let base_url = format!("http://{}", server.addr);
        FakeProvider {
            provider,
            base_url,
            shared,
            _server: server,
        }
    }

    /// Points Vestnik's SMS channel at this fake, through the shipped profile it stands in
    /// for: apply it in a `spawn_app_with` tweak.
    pub fn wiring(&self) -> impl FnOnce(&mut vestnik::settings::Settings) + Send + 'static {
        let profile = self.provider.profile_file().trim_end_matches(".toml");
        let (base_url, secrets) = (self.base_url.clone(), self.secrets());
        move |s| {
            s.channels.sms = vestnik::settings::GatewayName::Profile;
            s.sms.profile = profile.to_owned();
            s.sms.profiles_dir = super::repo_path("channels");
            s.sms.base_url = base_url;
            s.sms.secrets = secrets.into_iter().map(|(k, v)| (k, v.into())).collect();
        }
    }

    /// The secrets the shipped profiles reference, with the values this fake accepts.
    pub fn secrets(&self) -> HashMap<String, String> {
        [
            ("SMSRU_API_ID", SMSRU_API_ID),
            ("SMSRU_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
            ("SMSC_LOGIN", SMSC_LOGIN.0),
            ("SMSC_PASSWORD", SMSC_LOGIN.1),
            ("SMSC_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
            ("SMSAERO_EMAIL", "fake@smsaero.test"),
            ("SMSAERO_API_KEY", "fake-aero-key"),
            ("SMSAERO_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
            ("GENERIC_SMS_TOKEN", GENERIC_TOKEN),
            ("GENERIC_SMS_WEBHOOK_SECRET", GENERIC_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.inner.lock().expect("fake state")
    }

    /// Every accepted send, in order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Sends of a message already accepted (same `client_id`), in order.
    pub fn repeats(&self) -> Vec<Received> {
        self.lock().repeats.clone()
    }

    /// The size of each batch request (generic JSON, SMS.ru `to[…]`), in order of arrival.
    pub fn batches(&self) -> Vec<usize> {
        self.lock().batches.clone()
    }

    /// Every send request, accepted or not; each message of a batch counts as one.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// The next `n` sends fail with `fault`, then sends work again.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Every send fails with `fault` until cleared with `None`.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.lock().sticky = fault;
    }

    /// After each accepted (non-silent) send, post `report` to `webhook_url`.
    pub fn auto_report(&self, webhook_url: impl Into<String>, report: Report) {
        self.lock().auto = Some((webhook_url.into(), report));
    }

    /// Posts a correctly authenticated delivery report; returns the HTTP status we got.
    pub async fn report(&self, webhook_url: &str, provider_id: &str, report: Report) -> u16 {
        self.report_signed(webhook_url, provider_id, report, Signing::Valid)
            .await
    }

    pub async fn report_signed(
        &self,
        webhook_url: &str,
        provider_id: &str,
        report: Report,
        signing: Signing,
    ) -> u16 {
        post_report(&self.shared, webhook_url, provider_id, report, signing).await
    }
}

fn code(provider: Provider, report: Report) -> Value {
    use Report::*;
    match (provider, report) {
        (Provider::SmsRu, r) => json!(match r {
            Delivered => 103,
            Failed => 106,
            Expired => 104,
            Pending => 102,
        }),
        (Provider::Smsc, r) => json!(match r {
            Delivered => 1,
            Failed => 20,
            Expired => 3,
            Pending => 0,
        }),
        (Provider::SmsAero, r) => json!(match r {
            Delivered => 1,
            Failed | Expired => 2,
            Pending => 3,
        }),
        (Provider::GenericJson, r) => json!(match r {
            Delivered => "delivered",
            Failed => "failed",
            Expired => "expired",
            Pending => "queued",
        }),
    }
}

fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v.to_string())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

async fn post_report(
    shared: &Shared,
    url: &str,
    id: &str,
    report: Report,
    signing: Signing,
) -> u16 {
    let p = shared.provider;
    let phone = {
        let mut inner = shared.inner.lock().expect("fake state");
        let entry = inner
            .statuses
            .entry(id.to_owned())
            .or_insert_with(|| (String::new(), String::new(), false));
        entry.0 = text(&code(p, report));
        entry.1.clone()
    };
    let status = code(p, report);
    let (body, content_type) = match p {
        Provider::SmsRu => {
            let entry = format!("sms_status\n{id}\n{}\n{}", text(&status), now());
            (
                form(&[("data[]", &entry)]),
                "application/x-www-form-urlencoded",
            )
        }
        Provider::Smsc => (
            form(&[
                ("id", id),
                ("phone", &phone),
                ("status", &text(&status)),
                ("time", &now().to_string()),
                ("err", "0"),
            ]),
            "application/x-www-form-urlencoded",
        ),
        Provider::SmsAero => {
            let numeric: Value = id
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| json!(id));
            (json!({"id": numeric, "status": status, "extendStatus": format!("{report:?}").to_lowercase(), "dateAnswer": now()}).to_string(), "application/json")
        }
        Provider::GenericJson => (
            json!({"id": id, "status": status, "time": chrono::Utc::now().to_rfc3339()})
                .to_string(),
            "application/json",
        ),
    };
    let mut request = {
        vestnik::channels::install_crypto_provider();
        reqwest::Client::new()
    }
    .post(match (p, signing) {
        (Provider::GenericJson, _) | (_, Signing::Missing) => url.to_owned(),
        (_, Signing::Valid) => with_query(url, "token", WEBHOOK_TOKEN),
        (_, Signing::Wrong) => with_query(url, "token", "forged-token-0123456789"),
    });
    if p == Provider::GenericJson && signing != Signing::Missing {
        let key = if signing == Signing::Valid {
            GENERIC_SECRET
        } else {
            "forged-secret-0123456789"
        };
        request = request.header(
            "X-Signature",
            format!(
                "sha256={}",
                hmac_sha256_hex(key.as_bytes(), body.as_bytes())
            ),
        );
    }
    match request
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
    {
        Ok(response) => response.status().as_u16(),
        Err(_) => 0,
    }
}

fn with_query(url: &str, key: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", form(&[(key, value)]))
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Query then form fields, in the order sent.
fn form_pairs(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        pairs.extend(form_urlencoded::parse(body).into_owned());
    }
    pairs
}

/// Query and form fields merged (body wins), and the JSON body if any.
fn params(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (HashMap<String, String>, Value) {
    let fields = form_pairs(uri, headers, body).into_iter().collect();
    let json = serde_json::from_slice(body).unwrap_or(Value::Null);
    (fields, json)
}

/// SMS.ru's `to[<phone>]` fields as (phone, text), from the pairs and not the merged
/// map: a number sent twice must stay visible, and the first message is the one a
/// `Permanent` fault refuses.
fn bulk_fields(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    form_pairs(uri, headers, body)
        .into_iter()
        .filter_map(|(k, v)| {
            let phone = k.strip_prefix("to[")?.strip_suffix(']')?;
            Some((phone.to_owned(), v))
        })
        .collect()
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = shared.provider;
    let (fields, json) = params(&uri, &headers, &body);
    let path = uri.path();
    let bulk = match (p, path) {
        (Provider::SmsRu, "/sms/send") => bulk_fields(&uri, &headers, &body),
        _ => Vec::new(),
    };
    let is_send = matches!(
        (p, method.as_str(), path),
        (Provider::SmsRu, _, "/sms/send")
            | (Provider::Smsc, _, "/sys/send.php")
            | (Provider::SmsAero, "POST", "/v2/sms/send")
            | (Provider::GenericJson, "POST", "/messages")
    );
    let authorized = match p {
        Provider::SmsRu => fields.get("api_id").map(String::as_str) == Some(SMSRU_API_ID),
        Provider::Smsc => {
            (
                fields.get("login").map(String::as_str),
                fields.get("psw").map(String::as_str),
            ) == (Some(SMSC_LOGIN.0), Some(SMSC_LOGIN.1))
        }
        Provider::SmsAero => {
            headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(AERO_AUTH)
        }
        Provider::GenericJson => {
            headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {GENERIC_TOKEN}"))
        }
    };
    if !authorized {
        return match p {
            Provider::SmsRu => json_response(
                200,
                json!({"status": "ERROR", "status_code": 200, "status_text": "Неправильный api_id"}),
            ),
            Provider::Smsc => {
                json_response(200, json!({"error": "authorise error", "error_code": 2}))
            }
            Provider::SmsAero => json_response(
                401,
                json!({"success": false, "data": null, "message": "Your request was made with invalid credentials."}),
            ),
            Provider::GenericJson => json_response(
                401,
                json!({"error": {"code": "unauthorized", "message": "bad token"}}),
            ),
        };
    }
    if (p, method.as_str(), path) == (Provider::GenericJson, "POST", "/messages/batch") {
        send_batch(&shared, json).await
    } else if !bulk.is_empty() {
        send_bulk(&shared, fields, bulk).await
    } else if is_send {
        send(&shared, fields, json).await
    } else {
        poll(&shared, path, &fields)
    }
}

/// Generic JSON's batch: one answer per message, in order. A fault taken for the request
/// applies to all of it: a 500 or a timeout before anything is accepted; `Malformed` after
/// every message was accepted (the answer lost on the way: the sender must resend, and
/// the repeats of its `client_id`s are recorded); `Permanent` and `Busy` to the first
/// message alone.
async fn send_batch(shared: &Arc<Shared>, json: Value) -> Response {
    let Some(items) = json.get("messages").and_then(Value::as_array) else {
        return json_response(
            400,
            json!({"error": {"code": "invalid_request", "message": "messages is required"}}),
        );
    };
    let fault = {
        let mut inner = shared.inner.lock().expect("fake state");
        inner.batches.push(items.len());
        inner.faults.pop_front().or_else(|| inner.sticky.clone())
    };
    match fault {
        Some(Fault::Http500) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let mut answers = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let own = match &fault {
            Some(f @ (Fault::Permanent | Fault::Busy)) if i == 0 => Some(f.clone()),
            Some(Fault::Silent) => Some(Fault::Silent),
            _ => None,
        };
        let answer = send_with(shared, HashMap::new(), item.clone(), own).await;
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .expect("an answer body");
        answers.push(serde_json::from_slice::<Value>(&body).expect("a JSON answer"));
    }
    if fault == Some(Fault::Malformed) {
        return (StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response();
    }
    json_response(200, json!({ "messages": answers }))
}

fn smsru_error(code: u16, text: &str) -> Response {
    json_response(
        200,
        json!({"status": "ERROR", "status_code": code, "status_text": text}),
    )
}

/// Why SMS.ru would refuse a bulk request before looking at any of its messages.
fn bulk_refusal(fields: &HashMap<String, String>, bulk: &[(String, String)]) -> Option<Response> {
    if fields.get("json").map(String::as_str) != Some("1") {
        return Some(json_response(
            400,
            json!({"error": "required field missing"}),
        ));
    }
    if bulk.len() > SMSRU_BULK_MAX {
        return Some(smsru_error(
            207,
            "На этот номер (или один из номеров) нельзя отправлять сообщения, либо указано более 100 номеров в списке получателей",
        ));
    }
    let mut seen = HashSet::new();
    bulk.iter().find_map(|(phone, _)| {
        let digits = digits(phone);
        if digits.is_empty() {
            Some(smsru_error(202, "Неправильно указан номер или текст"))
        } else if !seen.insert(digits.clone()) {
            // SMS.ru documents nothing for this, and a form parser keeping the last value
            // would drop a message without a word: refused here so a client doing it fails
            // its tests instead.
            Some(smsru_error(
                202,
                &format!("Номер {digits} указан в запросе дважды"),
            ))
        } else {
            None
        }
    })
}

/// SMS.ru's bulk form: one answer keyed by number under `sms`, each message put through
/// `send_with` as if sent alone, so its id, status, report and refusal are a single send's.
/// A fault taken for the request applies to all of it, as for generic JSON's batch: a 500
/// or a timeout before anything is accepted; `Malformed` after every message was accepted
/// (SMS.ru has no client id, so a resend is a second SMS); `Permanent` to the first
/// message alone; `Busy` is SMS.ru's request-level 220 and so refuses them all.
async fn send_bulk(
    shared: &Arc<Shared>,
    mut fields: HashMap<String, String>,
    bulk: Vec<(String, String)>,
) -> Response {
    fields.retain(|k, _| !k.starts_with("to["));
    let refusal = bulk_refusal(&fields, &bulk);
    let fault = {
        let mut inner = shared.inner.lock().expect("fake state");
        inner.batches.push(bulk.len());
        // A refused request takes no fault: `fail_next` aims at requests SMS.ru would take.
        let fault = if refusal.is_some() {
            None
        } else {
            inner.faults.pop_front().or_else(|| inner.sticky.clone())
        };
        if refusal.is_some() || matches!(fault, Some(Fault::Http500 | Fault::Busy)) {
            // These never reach `send_with`, which counts the others.
            inner.requests += bulk.len();
        }
        fault
    };
    if let Some(refusal) = refusal {
        return refusal;
    }
    match fault {
        Some(Fault::Http500) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        Some(Fault::Busy) => return smsru_error(220, "Сервис временно недоступен"),
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let mut answers = serde_json::Map::new();
    for (i, (phone, message)) in bulk.into_iter().enumerate() {
        let own = match &fault {
            Some(Fault::Permanent) if i == 0 => Some(Fault::Permanent),
            Some(Fault::Silent) => Some(Fault::Silent),
            _ => None,
        };
        let key = digits(&phone);
        let mut single = fields.clone();
        single.insert("to".to_owned(), phone);
        single.insert("msg".to_owned(), message);
        let answer = send_with(shared, single, Value::Null, own).await;
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .expect("an answer body");
        let answer: Value = serde_json::from_slice(&body).expect("a JSON answer");
        // A single send refused whole (no text: 202 at the top) is this number's refusal.
        let entry = answer["sms"].get(&key).cloned().unwrap_or_else(|| {
            json!({"status": answer["status"], "status_code": answer["status_code"], "status_text": answer["status_text"]})
        });
        answers.insert(key, entry);
    }
    if fault == Some(Fault::Malformed) {
        return (StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response();
    }
    json_response(
        200,
        json!({"status": "OK", "status_code": 100, "sms": answers, "balance": 4122.56}),
    )
}

async fn send(shared: &Arc<Shared>, fields: HashMap<String, String>, json: Value) -> Response {
    let fault = {
        let mut inner = shared.inner.lock().expect("fake state");
        inner.faults.pop_front().or_else(|| inner.sticky.clone())
    };
    send_with(shared, fields, json, fault).await
}

async fn send_with(
    shared: &Arc<Shared>,
    fields: HashMap<String, String>,
    json: Value,
    fault: Option<Fault>,
) -> Response {
    let p = shared.provider;
    let get = |k: &str| {
        match p {
            Provider::SmsAero | Provider::GenericJson => {
                json.get(k).map(text).or_else(|| fields.get(k).cloned())
            }
            _ => fields.get(k).cloned(),
        }
        .filter(|v| !v.is_empty())
    };
    let (to_key, text_key) = match p {
        Provider::SmsRu => ("to", "msg"),
        Provider::Smsc => ("phones", "mes"),
        Provider::SmsAero => ("number", "text"),
        Provider::GenericJson => ("to", "text"),
    };
    shared.inner.lock().expect("fake state").requests += 1;
    let (Some(to), Some(message)) = (get(to_key), get(text_key)) else {
        return match p {
            Provider::SmsRu => json_response(
                200,
                json!({"status": "ERROR", "status_code": 202, "status_text": "Неправильно указан номер или текст"}),
            ),
            Provider::Smsc => {
                json_response(200, json!({"error": "parameters error", "error_code": 1}))
            }
            Provider::SmsAero => json_response(
                400,
                json!({"success": false, "data": null, "message": "Validation error."}),
            ),
            Provider::GenericJson => json_response(
                400,
                json!({"error": {"code": "invalid_request", "message": "to and text are required"}}),
            ),
        };
    };
    let required_ok = match p {
        Provider::SmsRu => get("json").as_deref() == Some("1"),
        Provider::Smsc => {
            get("fmt").as_deref() == Some("3") && get("charset").as_deref() == Some("utf-8")
        }
        Provider::SmsAero => get("sign").is_some(),
        Provider::GenericJson => get("client_id").is_some(),
    };
    if !required_ok {
        return json_response(400, json!({"error": "required field missing"}));
    }
    let digits = digits(&to);
    match fault {
        Some(Fault::Http500) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        Some(Fault::Malformed) => {
            return (StatusCode::OK, "<html><body>502 Bad Gateway</body></html>").into_response();
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::Permanent) => {
            return match p {
                Provider::SmsRu => json_response(
                    200,
                    json!({"status": "OK", "status_code": 100, "sms": {digits: {"status": "ERROR", "status_code": 207, "status_text": "На этот номер нельзя отправлять сообщения"}}}),
                ),
                Provider::Smsc => {
                    json_response(200, json!({"error": "invalid phone", "error_code": 7}))
                }
                Provider::SmsAero => json_response(
                    400,
                    json!({"success": false, "data": null, "message": "Validation error: number is invalid."}),
                ),
                Provider::GenericJson => json_response(
                    400,
                    json!({"error": {"code": "invalid_number", "message": "not a mobile number"}}),
                ),
            };
        }
        Some(Fault::Busy) => {
            return match p {
                Provider::SmsRu => json_response(
                    200,
                    json!({"status": "ERROR", "status_code": 220, "status_text": "Сервис временно недоступен"}),
                ),
                Provider::Smsc => json_response(
                    200,
                    json!({"error": "duplicate request, wait a minute", "error_code": 9}),
                ),
                Provider::SmsAero => json_response(
                    503,
                    json!({"success": false, "data": null, "message": "Service unavailable"}),
                ),
                Provider::GenericJson => json_response(
                    429,
                    json!({"error": {"code": "rate_limited", "message": "slow down"}}),
                ),
            };
        }
        _ => {}
    }
    let silent = fault == Some(Fault::Silent);
    let client_id = match p {
        Provider::Smsc => get("id"),
        Provider::GenericJson => get("client_id"),
        _ => None,
    };
    let (id, auto) = {
        let mut inner = shared.inner.lock().expect("fake state");
        let existing = (p == Provider::GenericJson)
            .then(|| {
                client_id
                    .as_ref()
                    .and_then(|c| inner.by_client_id.get(c).cloned())
            })
            .flatten();
        if let Some(id) = existing {
            inner.repeats.push(Received {
                provider_id: id.clone(),
                to: to.clone(),
                text: message,
                sender: get("sender"),
                client_id,
                callback_url: None,
                at: std::time::Instant::now(),
            });
            return json_response(200, json!({"id": id}));
        }
        inner.next_id += 1;
        let id = match (p, &client_id) {
            (Provider::Smsc, Some(ours)) => ours.clone(),
            (Provider::SmsRu, _) => format!("{:06}-{:08}", 202, inner.next_id),
            (Provider::SmsAero, _) => (686_000 + inner.next_id).to_string(),
            _ => format!("gen-{}", inner.next_id),
        };
        if let Some(c) = &client_id {
            inner.by_client_id.insert(c.clone(), id.clone());
        }
        inner.statuses.insert(
            id.clone(),
            (text(&code(p, Report::Pending)), digits.clone(), silent),
        );
        inner.received.push(Received {
            provider_id: id.clone(),
            to: to.clone(),
            text: message,
            sender: get(match p {
                Provider::SmsRu => "from",
                Provider::Smsc => "sender",
                Provider::SmsAero => "sign",
                Provider::GenericJson => "sender",
            }),
            client_id,
            callback_url: get("callbackUrl"),
            at: std::time::Instant::now(),
        });
        (id, if silent { None } else { inner.auto.clone() })
    };
    if let Some((url, report)) = auto {
        let (shared, id) = (shared.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            post_report(&shared, &url, &id, report, Signing::Valid).await;
        });
    }
    match p {
        Provider::SmsRu => json_response(
            200,
            json!({"status": "OK", "status_code": 100, "sms": {digits: {"status": "OK", "status_code": 100, "sms_id": id}}, "balance": 4122.56}),
        ),
        Provider::Smsc => json_response(200, json!({"id": id, "cnt": 1})),
        Provider::SmsAero => {
            let numeric: u64 = id.parse().expect("numeric id");
            json_response(
                200,
                json!({"success": true, "data": {"id": numeric, "from": get("sign"), "number": digits, "text": get("text"), "status": 0, "extendStatus": "queue", "dateCreate": now()}, "message": null}),
            )
        }
        Provider::GenericJson => json_response(201, json!({"id": id})),
    }
}

fn poll(shared: &Shared, path: &str, fields: &HashMap<String, String>) -> Response {
    let p = shared.provider;
    let id = match p {
        Provider::SmsRu => fields.get("sms_id").cloned(),
        Provider::Smsc | Provider::SmsAero => fields.get("id").cloned(),
        Provider::GenericJson => path.strip_prefix("/messages/").map(|s| {
            form_urlencoded::parse(s.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        }),
    }
    .unwrap_or_default();
    let known = shared
        .inner
        .lock()
        .expect("fake state")
        .statuses
        .get(&id)
        .cloned();
    match (p, known) {
        (Provider::SmsRu, Some((c, _, _))) => json_response(
            200,
            json!({"status": "OK", "status_code": 100, "sms": {id: {"status": "OK", "status_code": c.parse::<i64>().unwrap_or(100), "status_text": "…"}}}),
        ),
        (Provider::SmsRu, None) => json_response(
            200,
            json!({"status": "OK", "status_code": 100, "sms": {id: {"status": "ERROR", "status_code": -1, "status_text": "Сообщение не найдено"}}}),
        ),
        (Provider::Smsc, Some((c, phone, _))) if fields.get("phone") == Some(&phone) => {
            json_response(
                200,
                json!({"status": c.parse::<i64>().unwrap_or(0), "last_timestamp": now()}),
            )
        }
        (Provider::Smsc, _) => json_response(200, json!({"status": -3, "last_timestamp": now()})),
        (Provider::SmsAero, Some((c, _, _))) => json_response(
            200,
            json!({"success": true, "data": {"id": id.parse::<u64>().unwrap_or(0), "status": c.parse::<i64>().unwrap_or(0), "dateAnswer": now()}, "message": null}),
        ),
        (Provider::SmsAero, None) => json_response(
            404,
            json!({"success": false, "data": null, "message": "Not found"}),
        ),
        (Provider::GenericJson, Some((c, _, _))) => json_response(
            200,
            json!({"id": id, "status": c, "time": chrono::Utc::now().to_rfc3339()}),
        ),
        (Provider::GenericJson, None) => json_response(
            404,
            json!({"error": {"code": "not_found", "message": "no such message"}}),
        ),
    }
}
