//! A fake Phaxio (API v2.1) on loopback, speaking the format documented in the header of
//! `channels/fax.toml`: `POST /v2.1/faxes` (multipart, basic auth, a `to` in E.164 and a
//! PDF `file` part), `GET /v2.1/faxes/{id}`, and postflight `fax_completed` webhooks as
//! multipart/form-data (`event_type`, `fax` as JSON text) signed with X-Phaxio-Signature.
//!
//! Results are scripted per destination number: each fax to it takes the next result.
//!
//! ```ignore
//! let fake = FakeFax::start().await;
//! fake.script("+78121234567", [FaxResult::Busy, FaxResult::Busy, FaxResult::Success]);
//! // each accepted fax's completion is posted to its callback_url (signed), unless
//! fake.set_auto_callbacks(false); // then: fake.callback(id, Signing::Wrong).await
//! ```
//! Independent of Vestnik's profile engine on purpose: it is the other side of the wire.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha1::Sha1;

pub const API_KEY: &str = "fake-phaxio-key";
pub const API_SECRET: &str = "fake-phaxio-secret";
pub const WEBHOOK_TOKEN: &str = "fake-phaxio-webhook-token-0123";
/// `Basic base64("fake-phaxio-key:fake-phaxio-secret")`.
const AUTH: &str = "Basic ZmFrZS1waGF4aW8ta2V5OmZha2UtcGhheGlvLXNlY3JldA==";

/// How one fax ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaxResult {
    Success,
    /// lineError "Busy".
    Busy,
    /// lineError "No answer from the fax machine".
    NoAnswer,
    /// Another failure: (error_type, error_message).
    Failure(&'static str, &'static str),
}

/// How the next sends fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaxFault {
    Http500,
    /// 429.
    RateLimited,
    /// 422 "Invalid phone number".
    InvalidNumber,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Valid,
    Missing,
    Wrong,
}

/// One accepted fax.
#[derive(Debug, Clone)]
pub struct Fax {
    pub id: u64,
    pub to: String,
    pub pdf: Vec<u8>,
    pub filename: String,
    pub callback_url: Option<String>,
    pub header_text: Option<String>,
    pub tags: HashMap<String, String>,
    /// Pages counted in the PDF (`/Type /Page` objects).
    pub num_pages: u64,
    pub result: FaxResult,
    pub completed: bool,
}

#[derive(Default)]
struct Inner {
    faxes: Vec<Fax>,
    requests: usize,
    faults: VecDeque<FaxFault>,
    scripts: HashMap<String, VecDeque<FaxResult>>,
    manual: bool,
    next: u64,
}

pub struct FakeFax {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    _server: super::Loopback,
}

impl FakeFax {
    pub async fn start() -> FakeFax {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let server = super::Loopback::serve(app).await;
        let base_url = format!("http://{}", server.addr);
        FakeFax {
            base_url,
            inner,
            _server: server,
        }
    }

    /// The secrets `channels/fax.toml` references, with the values this fake takes.
    pub fn secrets(&self) -> HashMap<String, String> {
        [
            ("PHAXIO_API_KEY", API_KEY),
            ("PHAXIO_API_SECRET", API_SECRET),
            ("PHAXIO_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake state")
    }

    pub fn faxes(&self) -> Vec<Fax> {
        self.lock().faxes.clone()
    }

    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    pub fn fail_next(&self, n: usize, fault: FaxFault) {
        self.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// The results of the next faxes to `number` (E.164), in order; then success.
    pub fn script(&self, number: &str, results: impl IntoIterator<Item = FaxResult>) {
        self.lock()
            .scripts
            .entry(number.to_owned())
            .or_default()
            .extend(results);
    }

    /// With `false`, completions are posted only by [`Self::callback`].
    pub fn set_auto_callbacks(&self, on: bool) {
        self.lock().manual = !on;
    }

    /// Completes fax `id` (if not yet) and posts its `fax_completed` webhook to its
    /// callback URL; returns the HTTP status (0 if unreachable or no URL).
    pub async fn callback(&self, id: u64, signing: Signing) -> u16 {
        post_completion(&self.inner, id, signing).await
    }

    /// Posts an inflight `transmitting_page` webhook for fax `id`.
    pub async fn transmitting_page(&self, id: u64) -> u16 {
        let (url, fax) = {
            let inner = self.lock();
            let Some(f) = inner.faxes.iter().find(|f| f.id == id) else {
                return 0;
            };
            (f.callback_url.clone(), fax_object(f, false))
        };
        let Some(url) = url else { return 0 };
        let fields = vec![
            ("event_type".to_owned(), "transmitting_page".to_owned()),
            ("fax".to_owned(), fax.to_string()),
            ("page".to_owned(), "1".to_owned()),
            (
                "recipient_phone_number".to_owned(),
                fax["recipients"][0]["phone_number"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        ];
        post_webhook(&url, &fields, Signing::Valid).await
    }
}

/// The fax object of `f` (Phaxio v2.1 fields), completed or still in progress.
fn fax_object(f: &Fax, completed: bool) -> Value {
    let (status, error) = if !completed {
        ("inprogress", None)
    } else {
        match &f.result {
            FaxResult::Success => ("success", None),
            FaxResult::Busy => ("failure", Some(("lineError", "Busy"))),
            FaxResult::NoAnswer => (
                "failure",
                Some(("lineError", "No answer from the fax machine")),
            ),
            FaxResult::Failure(t, m) => ("failure", Some((*t, *m))),
        }
    };
    // error_id values are illustrative: Phaxio numbers its messages, the list is not public.
    let (error_type, error_message, error_id) = match error {
        Some((t, m)) => (json!(t), json!(m), json!(if m == "Busy" { 34 } else { 35 })),
        None => (Value::Null, Value::Null, Value::Null),
    };
    let completed_at = completed.then(|| chrono::Utc::now().to_rfc3339());
    json!({
        "id": f.id,
        "direction": "sent",
        "num_pages": f.num_pages,
        "status": status,
        "is_test": false,
        "created_at": "2025-03-14T10:00:00.000+03:00",
        "caller_id": "+18475551234",
        "from_number": null,
        "completed_at": completed_at,
        "cost": 7 * f.num_pages,
        "tags": f.tags,
        "recipients": [{
            "phone_number": f.to,
            "status": status,
            "retry_count": 0,
            "completed_at": completed_at,
            "bitrate": 14400,
            "resolution": 8040,
            "error_type": error_type,
            "error_message": error_message,
            "error_id": error_id,
        }],
        "to_number": null,
        "error_type": error_type,
        "error_message": error_message,
        "error_id": error_id,
        "barcodes": [],
    })
}

async fn post_completion(inner: &Mutex<Inner>, id: u64, signing: Signing) -> u16 {
    let (url, fax) = {
        let mut inner = inner.lock().expect("fake state");
        let Some(f) = inner.faxes.iter_mut().find(|f| f.id == id) else {
            return 0;
        };
        f.completed = true;
        (f.callback_url.clone(), fax_object(f, true))
    };
    let Some(url) = url else { return 0 };
    let fields = vec![
        ("event_type".to_owned(), "fax_completed".to_owned()),
        ("fax".to_owned(), fax.to_string()),
    ];
    post_webhook(&url, &fields, signing).await
}

/// A multipart/form-data POST of `fields`, signed as Phaxio signs.
async fn post_webhook(url: &str, fields: &[(String, String)], signing: Signing) -> u16 {
    let boundary = "------------------------phaxio0123456789";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    vestnik::channels::install_crypto_provider();
    let mut request = reqwest::Client::new().post(url).header(
        "Content-Type",
        format!("multipart/form-data; boundary={boundary}"),
    );
    let key = match signing {
        Signing::Valid => Some(WEBHOOK_TOKEN),
        Signing::Wrong => Some("forged-token-0123456789"),
        Signing::Missing => None,
    };
    if let Some(key) = key {
        // The URL as submitted, then name+value of each field sorted by name (no files).
        let mut sorted: Vec<&(String, String)> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut text = url.to_owned();
        for (n, v) in sorted {
            text.push_str(n);
            text.push_str(v);
        }
        request = request.header(
            "X-Phaxio-Signature",
            hex::encode(hmac_sha1(key.as_bytes(), text.as_bytes())),
        );
    }
    match request.body(body).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha1>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn failure(status: u16, message: &str) -> Response {
    answer(status, json!({"success": false, "message": message}))
}

/// One part of a multipart request: (name, filename, contents).
type Part = (String, Option<String>, Vec<u8>);

/// A minimal multipart/form-data reader, boundary from the Content-Type header.
fn multipart(headers: &HeaderMap, body: &[u8]) -> Option<Vec<Part>> {
    let ct = headers.get("content-type")?.to_str().ok()?;
    let boundary = ct
        .strip_prefix("multipart/form-data")?
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())?;
        let part = &rest[..end];
        let split = find(part, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let param = |key: &str| {
            head.split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{key}=\"")))
                .and_then(|v| v.split('"').next())
                .map(str::to_owned)
        };
        parts.push((
            param("name")?,
            param("filename"),
            part[split + 4..].to_vec(),
        ));
        rest = &rest[end + 2 + delimiter.len()..];
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(AUTH) {
        return failure(401, "Invalid API credentials");
    }
    match (method.as_str(), uri.path()) {
        ("POST", "/v2.1/faxes") => send(&inner, &headers, &body),
        ("GET", path) if path.starts_with("/v2.1/faxes/") => {
            let id = path["/v2.1/faxes/".len()..].parse::<u64>().unwrap_or(0);
            let inner = inner.lock().expect("fake state");
            match inner.faxes.iter().find(|f| f.id == id) {
                Some(f) => answer(
                    200,
                    json!({"success": true, "message": "Retrieved fax successfully",
                           "data": fax_object(f, f.completed)}),
                ),
                None => failure(404, "Fax not found"),
            }
        }
        _ => failure(404, "Not found"),
    }
}

fn send(inner: &Arc<Mutex<Inner>>, headers: &HeaderMap, body: &[u8]) -> Response {
    let fault = {
        let mut inner = inner.lock().expect("fake state");
        inner.requests += 1;
        inner.faults.pop_front()
    };
    let Some(parts) = multipart(headers, body) else {
        return failure(422, "The request must be multipart/form-data");
    };
    let text = |name: &str| {
        parts
            .iter()
            .find(|(n, f, _)| n == name && f.is_none())
            .map(|(_, _, d)| String::from_utf8_lossy(d).into_owned())
            .filter(|s| !s.is_empty())
    };
    let Some(to) = text("to") else {
        return failure(422, "to is required");
    };
    let e164 = to
        .strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
    if !e164 || fault == Some(FaxFault::InvalidNumber) {
        return failure(422, "Invalid phone number");
    }
    let Some((_, Some(filename), pdf)) = parts.iter().find(|(n, f, _)| n == "file" && f.is_some())
    else {
        return failure(
            422,
            "At least one file or content_url parameter is required",
        );
    };
    if !pdf.starts_with(b"%PDF-") {
        return failure(422, "The file could not be converted");
    }
    match fault {
        Some(FaxFault::Http500) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        Some(FaxFault::RateLimited) => return failure(429, "Rate limit exceeded"),
        _ => {}
    }
    let header_text = text("header_text");
    if header_text.as_ref().is_some_and(|h| h.chars().count() > 50) {
        return failure(422, "header_text is at most 50 characters");
    }
    let tags = parts
        .iter()
        .filter_map(|(n, f, d)| {
            let name = n.strip_prefix("tag[")?.strip_suffix(']')?;
            f.is_none()
                .then(|| (name.to_owned(), String::from_utf8_lossy(d).into_owned()))
        })
        .collect();
    let pages = pdf
        .windows(11)
        .enumerate()
        .filter(|(i, w)| *w == b"/Type /Page" && pdf.get(i + 11) != Some(&b's'))
        .count()
        .max(1) as u64;
    let (id, auto) = {
        let mut inner = inner.lock().expect("fake state");
        inner.next += 1;
        let id = 100_000 + inner.next;
        let result = inner
            .scripts
            .get_mut(&to)
            .and_then(VecDeque::pop_front)
            .unwrap_or(FaxResult::Success);
        let callback_url = text("callback_url");
        let auto = callback_url.is_some() && !inner.manual;
        inner.faxes.push(Fax {
            id,
            to,
            pdf: pdf.clone(),
            filename: filename.clone(),
            callback_url,
            header_text,
            tags,
            num_pages: pages,
            result,
            completed: false,
        });
        (id, auto)
    };
    if auto {
        let inner = inner.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            post_completion(&inner, id, Signing::Valid).await;
        });
    }
    answer(
        200,
        json!({"success": true, "message": "Fax queued for sending", "data": {"id": id}}),
    )
}
