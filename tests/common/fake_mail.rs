//! A fake hybrid-mail provider on loopback, speaking the API documented in the header of
//! `channels/hybrid-mail.toml` (a generic API of ours: no Russian provider publishes one).
//!
//! It checks the bearer token and every field of a submission (the document must be base64
//! of a `%PDF-` file whose SHA-256 it is told), answers with an id and a valid 14-digit ШПИ,
//! is idempotent by `client_id`, records submissions, fails on request, answers status
//! requests with the latest event, and posts signed tracking events to a webhook URL.
//!
//! ```ignore
//! let fake = FakeMail::start().await;
//! // load channels/hybrid-mail.toml with fake.secrets() and base_url = fake.base_url
//! fake.fail_next(1, MailFault::RateLimited);
//! fake.event(&receipts_url, &id, MailEvent::ReturnedUnclaimed, Some(scan)).await;
//! ```
//! Independent of Vestnik's profile engine on purpose: it is the other side of the wire.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const TOKEN: &str = "fake-hybrid-mail-token";
pub const WEBHOOK_SECRET: &str = "fake-hybrid-mail-hmac-secret-0123";

/// How the next submissions fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailFault {
    Http500,
    /// 429 `rate_limited`.
    RateLimited,
    /// 422 `invalid_address`.
    InvalidAddress,
    /// Accepts, but answers a tracking number whose check digit is wrong.
    BadTrackingNumber,
}

/// A tracking event, as Russian Post's tracking codes (operation.attribute) name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailEvent {
    /// 1.1 Приём.
    Accepted,
    /// 8.3 Прибыло в сортировочный центр.
    InTransit,
    /// 8.2 Прибыло в место вручения.
    Arrived,
    /// 2.1 Вручение адресату.
    Delivered,
    /// 3.1 Возврат: истек срок хранения.
    ReturnedUnclaimed,
    /// 3.4 Возврат: отказ адресата.
    ReturnedRefused,
}

impl MailEvent {
    pub const ALL: [MailEvent; 6] = [
        MailEvent::Accepted,
        MailEvent::InTransit,
        MailEvent::Arrived,
        MailEvent::Delivered,
        MailEvent::ReturnedUnclaimed,
        MailEvent::ReturnedRefused,
    ];

    /// (operation, attribute, name, reason)
    pub fn codes(self) -> (u32, u32, &'static str, Option<&'static str>) {
        match self {
            MailEvent::Accepted => (1, 1, "Приём", None),
            MailEvent::InTransit => (8, 3, "Прибыло в сортировочный центр", None),
            MailEvent::Arrived => (8, 2, "Прибыло в место вручения", None),
            MailEvent::Delivered => (2, 1, "Вручение адресату", None),
            MailEvent::ReturnedUnclaimed => (3, 1, "Возврат", Some("Истек срок хранения")),
            MailEvent::ReturnedRefused => (3, 4, "Возврат", Some("Отказ адресата")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    Valid,
    Missing,
    Wrong,
}

/// One accepted letter.
#[derive(Debug, Clone)]
pub struct Submission {
    pub id: String,
    pub client_id: String,
    pub tracking_number: String,
    pub service: String,
    pub sender: Option<String>,
    pub name: String,
    pub postcode: String,
    pub address: String,
    pub pdf: Vec<u8>,
    pub pages: u64,
    pub callback_url: Option<String>,
}

#[derive(Default)]
struct Inner {
    submissions: Vec<Submission>,
    requests: usize,
    faults: VecDeque<MailFault>,
    /// letter id → latest event document
    latest: HashMap<String, Value>,
    next: u64,
}

pub struct FakeMail {
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
    _server: super::Loopback,
}

impl FakeMail {
    pub async fn start() -> FakeMail {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        let server = super::Loopback::serve(app).await;
        let base_url = format!("http://{}/v1", server.addr);
        FakeMail {
            base_url,
            inner,
            _server: server,
        }
    }

    /// The secrets `channels/hybrid-mail.toml` references, with the values this fake takes.
    pub fn secrets(&self) -> HashMap<String, String> {
        [
            ("HYBRID_MAIL_TOKEN", TOKEN),
            ("HYBRID_MAIL_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake state")
    }

    pub fn submissions(&self) -> Vec<Submission> {
        self.lock().submissions.clone()
    }

    /// Every submission request, accepted or not.
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    pub fn fail_next(&self, n: usize, fault: MailFault) {
        self.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Posts a correctly signed event for letter `id`, dated `date` (RFC 3339, Moscow
    /// time in the tests), with a scanned return receipt if given; returns the HTTP status.
    pub async fn event(
        &self,
        webhook_url: &str,
        id: &str,
        event: MailEvent,
        date: &str,
        return_receipt: Option<&[u8]>,
    ) -> u16 {
        self.event_signed(webhook_url, id, event, date, return_receipt, Signing::Valid)
            .await
    }

    pub async fn event_signed(
        &self,
        webhook_url: &str,
        id: &str,
        event: MailEvent,
        date: &str,
        return_receipt: Option<&[u8]>,
        signing: Signing,
    ) -> u16 {
        let (operation, attribute, name, reason) = event.codes();
        let mut e = json!({
            "operation": operation, "attribute": attribute, "name": name, "date": date,
            "postcode": "190000",
        });
        if let Some(r) = reason {
            e["reason"] = r.into();
        }
        if let Some(scan) = return_receipt {
            e["return_receipt"] = base64::engine::general_purpose::STANDARD
                .encode(scan)
                .into();
        }
        let tracking = {
            let mut inner = self.lock();
            inner.latest.insert(id.to_owned(), e.clone());
            inner
                .submissions
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.tracking_number.clone())
                .unwrap_or_default()
        };
        let body = json!({"letter_id": id, "tracking_number": tracking, "event": e}).to_string();
        vestnik::channels::install_crypto_provider();
        let mut request = reqwest::Client::new()
            .post(webhook_url)
            .header("Content-Type", "application/json");
        let key = match signing {
            Signing::Valid => Some(WEBHOOK_SECRET),
            Signing::Wrong => Some("forged-secret-0123456789"),
            Signing::Missing => None,
        };
        if let Some(key) = key {
            request = request.header(
                "X-Signature",
                format!(
                    "sha256={}",
                    hex::encode(hmac_sha256(key.as_bytes(), body.as_bytes()))
                ),
            );
        }
        match request.body(body).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A 14-digit ШПИ: accepting office 190000, month 25, item `n`, check digit (3,1 weights).
fn tracking_number(n: u64, valid: bool) -> String {
    let first13 = format!("19000025{:05}", n % 100_000);
    let sum: u32 = first13
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    let check = (10 - sum % 10) % 10;
    let check = if valid { check } else { (check + 1) % 10 };
    format!("{first13}{check}")
}

fn answer(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: u16, code: &str, message: &str) -> Response {
    answer(status, json!({"error": {"code": code, "message": message}}))
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        return error(401, "unauthorized", "bad token");
    }
    match (method.as_str(), uri.path()) {
        ("POST", "/v1/letters") => submit(&inner, &headers, &body),
        ("GET", path) if path.starts_with("/v1/letters/") => {
            let id = &path["/v1/letters/".len()..];
            let inner = inner.lock().expect("fake state");
            match inner.submissions.iter().find(|s| s.id == id) {
                Some(s) => {
                    let event = inner.latest.get(id).cloned().unwrap_or_else(|| {
                        json!({"operation": 1, "attribute": 1, "name": "Приём",
                               "date": "2025-03-10T09:00:00+03:00", "postcode": "190000"})
                    });
                    answer(
                        200,
                        json!({"id": id, "tracking_number": s.tracking_number, "event": event}),
                    )
                }
                None => error(404, "not_found", "no such letter"),
            }
        }
        _ => error(404, "not_found", "no such endpoint"),
    }
}

fn submit(inner: &Mutex<Inner>, headers: &HeaderMap, body: &[u8]) -> Response {
    let fault = {
        let mut inner = inner.lock().expect("fake state");
        inner.requests += 1;
        inner.faults.pop_front()
    };
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Some(doc) = json_type
        .then(|| serde_json::from_slice::<Value>(body).ok())
        .flatten()
    else {
        return error(400, "invalid_request", "a JSON body is required");
    };
    let text = |v: &Value| v.as_str().map(str::to_owned).filter(|s| !s.is_empty());
    let (Some(client_id), Some(service)) = (text(&doc["client_id"]), text(&doc["service"])) else {
        return error(400, "invalid_request", "client_id and service are required");
    };
    let r = &doc["recipient"];
    let (Some(name), Some(postcode), Some(address)) =
        (text(&r["name"]), text(&r["postcode"]), text(&r["address"]))
    else {
        return error(
            422,
            "invalid_address",
            "recipient name, postcode, address required",
        );
    };
    if postcode.len() != 6 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
        return error(422, "invalid_address", "the postcode is six digits");
    }
    let d = &doc["document"];
    let pdf = text(&d["content_base64"])
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
    let Some(pdf) = pdf.filter(|p| p.starts_with(b"%PDF-")) else {
        return error(
            422,
            "invalid_document",
            "content_base64 must be a PDF in base64",
        );
    };
    if text(&d["sha256"]) != Some(hex::encode(Sha256::digest(&pdf))) {
        return error(
            422,
            "invalid_document",
            "sha256 does not match the document",
        );
    }
    let Some(pages) = d["pages"].as_u64().filter(|p| (1..=100).contains(p)) else {
        return error(
            422,
            "too_many_pages",
            "pages must be a number from 1 to 100",
        );
    };
    match fault {
        Some(MailFault::Http500) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
        }
        Some(MailFault::RateLimited) => return error(429, "rate_limited", "slow down"),
        Some(MailFault::InvalidAddress) => {
            return error(422, "invalid_address", "the address does not exist");
        }
        _ => {}
    }
    let mut inner = inner.lock().expect("fake state");
    if let Some(s) = inner.submissions.iter().find(|s| s.client_id == client_id) {
        return answer(
            200,
            json!({"id": s.id, "tracking_number": s.tracking_number, "status": "accepted"}),
        );
    }
    inner.next += 1;
    let n = inner.next;
    let submission = Submission {
        id: format!("L-{n}"),
        client_id,
        tracking_number: tracking_number(n, fault != Some(MailFault::BadTrackingNumber)),
        service,
        sender: text(&doc["sender"]),
        name,
        postcode,
        address,
        pdf,
        pages,
        callback_url: text(&doc["callback_url"]),
    };
    let reply = json!({"id": submission.id, "tracking_number": submission.tracking_number,
                       "status": "accepted"});
    inner.submissions.push(submission);
    answer(201, reply)
}
