//! The TOML schema of a gateway profile, as written in `channels/*.toml`.
//!
//! Every table denies unknown keys, so a typo is a load error naming the key path.
//! Strings marked *template* are Handlebars (no HTML escaping, strict: an unknown
//! variable is an error) and may reference secrets as `${ENV_NAME}`; see [`super`] for
//! the variables a template sees.

use std::collections::BTreeMap;

use serde::Deserialize;

mod receipts;

pub use receipts::{
    BatchSpec, ReceiptsSpec, Reply, SignatureEncoding, Split, TokenLocation, WebhookAuthSpec,
    WebhookFormat,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub name: String,
    pub kind: Kind,
    /// The provider's base URL, `{{base_url}}` in templates; overridable at load.
    pub base_url: String,
    /// How `{{to}}` is written: `digits` (79161234567) or `plus` (+79161234567).
    #[serde(default)]
    pub phone_format: PhoneFormat,
    /// Default sender name (`{{sender}}`); a message may override it.
    #[serde(default)]
    pub sender: Option<String>,
    /// Mail only: the postal service ordered (`{{service}}`), default
    /// `registered_with_receipt` (registered letter with a return receipt).
    #[serde(default)]
    pub service: Option<String>,
    pub send: RequestSpec,
    /// SMS with a JSON `[send]` only: the provider's endpoint for many messages in one
    /// request, used when `sms.batch_size` allows (see [`SendBatchSpec`]).
    #[serde(default)]
    pub send_batch: Option<SendBatchSpec>,
    /// Provider status values → our delivery statuses; shared by receipts and polling.
    #[serde(default)]
    pub statuses: StatusMap,
    #[serde(default)]
    pub receipts: Option<ReceiptsSpec>,
    #[serde(default)]
    pub poll: Option<RequestSpec>,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Sms,
    /// Hybrid mail: a PDF printed and posted as a letter.
    Mail,
    Fax,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sms => "sms",
            Kind::Mail => "mail",
            Kind::Fax => "fax",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneFormat {
    Digits,
    #[default]
    Plus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// Where the request's fields go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded` body.
    Form,
    /// `application/json` body.
    Json,
    /// Appended to the URL's query string; no body.
    Query,
    /// `multipart/form-data`: the fields as text parts, and the document as a file part
    /// if `file` says so.
    Multipart,
}

/// One HTTP request: `[send]` or `[poll]`, with how to read its answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    pub method: Method,
    /// Template.
    pub url: String,
    pub format: BodyFormat,
    /// Header name → template.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub auth: AuthSpec,
    /// Field name → template. For `json` any TOML structure, whose strings are templates.
    /// A field whose value renders empty is left out.
    #[serde(default)]
    pub fields: Option<toml::Table>,
    /// Alternatively the whole body as one template (`{{json text}}` quotes a JSON string).
    #[serde(default)]
    pub template: Option<String>,
    /// `multipart` only (mail and fax): the document as a file part.
    #[serde(default)]
    pub file: Option<FileSpec>,
    pub response: ResponseSpec,
}

/// `[send_batch]`: several SMS in one `POST`, in one of two shapes, after `[send]`'s format.
///
/// - JSON (`items`, `results`): each message is the JSON object `[send]`'s `fields` make
///   of it, and the body is `{"<items>": [those objects]}`, with `[send]`'s headers and
///   auth. The answer holds one result per message, in the order sent, at the pointer
///   `results`; each is read as `[send.response]` reads a single answer. An answer that is
///   not such an array (or of another length) is a failure of the whole request.
/// - Form (`item_name`, `item_value`, `omit`): `[send]`'s fields once, without those named
///   in `omit`, then one field per message, both its name and its value templates of the
///   message (SMS.ru's `to[<number>]=<text>`). The answer is keyed rather than ordered:
///   each message's result is what `[send.response]` reads from the whole answer with that
///   message's variables, and `entry` points at the message's own part of it. Messages to
///   one number never share a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBatchSpec {
    /// At most this many messages per request (the provider's own limit).
    pub max: usize,
    /// Template; it sees what every template sees but no message's own variables.
    pub url: String,
    /// JSON: the body's key for the array of messages.
    #[serde(default)]
    pub items: Option<String>,
    /// JSON: pointer to the array of results in the answer.
    #[serde(default)]
    pub results: Option<String>,
    /// Form: template of each message's field name.
    #[serde(default)]
    pub item_name: Option<String>,
    /// Form: template of each message's field value.
    #[serde(default)]
    pub item_value: Option<String>,
    /// Form: `[send]` fields that belong to one message and so are left out.
    #[serde(default)]
    pub omit: Vec<String>,
    /// Form: template of the JSON pointer to a message's own entry in the answer. A message
    /// with none was perhaps taken: a refusal read for it is not trusted (sent again).
    #[serde(default)]
    pub entry: Option<String>,
}

/// `file = { field = "file", filename = "{{message_id}}.pdf" }`: the message's PDF as a part.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The part's name.
    pub field: String,
    /// Template.
    pub filename: String,
    #[serde(default = "FileSpec::pdf")]
    pub content_type: String,
}

impl FileSpec {
    fn pdf() -> String {
        "application/pdf".into()
    }
}

/// Where a status value is: one path, or several whose values are joined with `.`
/// (`["/operation", "/attribute"]` reads `3.1`); missing trailing values are left out, so
/// `["/status", "/error"]` reads `success` when there is no error.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusPath {
    One(String),
    Joined(Vec<String>),
}

impl StatusPath {
    pub fn paths(&self) -> Vec<&str> {
        match self {
            StatusPath::One(p) => vec![p.as_str()],
            StatusPath::Joined(ps) => ps.iter().map(String::as_str).collect(),
        }
    }
}

/// What else a delivery report may carry, shared by `[receipts]` and `[poll.response]`;
/// every entry is a path (a JSON pointer; a template in `[poll]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFields {
    /// The status's human name; when set it becomes the receipt's `provider_status` and the
    /// status value goes to `details.status_code`.
    #[serde(default)]
    pub status_name: Option<String>,
    /// Why it failed (a return's reason, a fax error message).
    #[serde(default)]
    pub reason: Option<String>,
    /// Base64 evidence (a scanned return receipt), decoded onto the receipt.
    #[serde(default)]
    pub evidence: Option<String>,
    /// Pages transmitted; with `pages_submitted`, a "delivered" fax that sent fewer pages
    /// than were submitted is failed.
    #[serde(default)]
    pub pages_sent: Option<String>,
    #[serde(default)]
    pub pages_submitted: Option<String>,
    /// Name → path: more values copied to `details` (`csid`, `result_code`, `pages`).
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSpec {
    #[default]
    None,
    /// `Authorization: Basic base64(username:password)`; both templates.
    Basic { username: String, password: String },
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// An API key as a query parameter.
    Query { name: String, value: String },
    /// An API key as a header.
    Header { name: String, value: String },
}

/// How to read a response (JSON). Paths are JSON pointers (RFC 6901) and templates, so
/// `/sms/{{to_digits}}/sms_id` works.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// All must hold (with a 2xx status) for the request to have succeeded.
    #[serde(default)]
    pub accept_if: Vec<Condition>,
    /// `[send]` only: where the provider's message id is.
    #[serde(default)]
    pub message_id: Option<String>,
    /// `[send]`, mail only: where the postal tracking number (ШПИ or S10) is; it is verified.
    #[serde(default)]
    pub tracking_number: Option<String>,
    /// `[poll]` only: where the status value is.
    #[serde(default)]
    pub status: Option<StatusPath>,
    /// `[poll]` only: where the status time is.
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_format: TimeFormat,
    /// Where an error code may be, tried in order.
    #[serde(default)]
    pub error_code: Vec<String>,
    /// Where an error text may be, tried in order.
    #[serde(default)]
    pub error_text: Vec<String>,
    /// Error codes that retrying cannot fix (bad number, forbidden text).
    #[serde(default)]
    pub permanent_codes: Vec<CodeValue>,
    /// Error codes worth retrying (provider busy, balance, rate limit).
    #[serde(default)]
    pub transient_codes: Vec<CodeValue>,
    /// What an error whose code is in neither list is.
    #[serde(default = "Retry::permanent")]
    pub unknown_error: Retry,
    /// HTTP statuses that are transient whatever the body says.
    #[serde(default = "default_transient_http")]
    pub transient_http: Vec<CodeValue>,
    /// `[poll]` only: what else the answer reports.
    #[serde(default)]
    pub report: Option<ReportFields>,
}

fn default_transient_http() -> Vec<CodeValue> {
    ["408", "425", "429", "500..=599"]
        .map(|s| CodeValue::Text(s.into()))
        .to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retry {
    Permanent,
    Transient,
}

impl Retry {
    fn permanent() -> Retry {
        Retry::Permanent
    }
}

/// `{ path = "/status", equals = "OK" }` or `{ path = "/id", exists = true }`. Values
/// compare as text, so `equals = 100` matches `100` and `"100"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub path: String,
    #[serde(default)]
    pub equals: Option<toml::Value>,
    #[serde(default)]
    pub exists: Option<bool>,
}

/// A code or status value: `7`, `"OK"`, `"-1"`, or an inclusive range `"105..=108"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CodeValue {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Seconds since the epoch, as a number or text.
    Unix,
    UnixMs,
    #[default]
    Rfc3339,
}

/// `delivered = [103]`, `failed = ["105..=108"]`, …; any other value is `otherwise`.
///
/// A value is `7`, `"OK"`, an integer range `"105..=108"`, `"3.*"` (3 and every `3.x`) or
/// a prefix `"fail*"`. An exact value wins over a pattern in another list, and the longest
/// pattern over a shorter one, so `delivered_returned = ["3.1"]` and `failed = ["3.*"]`
/// together mean "3.1 is a lawful delivery, every other 3.x a failure".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusMap {
    #[serde(default)]
    pub delivered: Vec<CodeValue>,
    /// Returned unclaimed after the storage period: delivered by law (Civil Code art. 165.1),
    /// with that reason.
    #[serde(default)]
    pub delivered_returned: Vec<CodeValue>,
    /// Not delivered this time, worth resending later (busy, no answer).
    #[serde(default)]
    pub retry: Vec<CodeValue>,
    #[serde(default)]
    pub failed: Vec<CodeValue>,
    #[serde(default)]
    pub expired: Vec<CodeValue>,
    #[serde(default)]
    pub pending: Vec<CodeValue>,
    #[serde(default)]
    pub otherwise: Option<super::DeliveryStatus>,
}

/// `[limits]`: enforced by the caller (rate limiter, semaphore, client timeout).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "Limits::rate")]
    pub rate_per_sec: f64,
    #[serde(default = "Limits::concurrency")]
    pub concurrency: usize,
    #[serde(default = "Limits::timeout")]
    pub timeout_ms: u64,
}

impl Limits {
    fn rate() -> f64 {
        10.0
    }
    fn concurrency() -> usize {
        4
    }
    fn timeout() -> u64 {
        10_000
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_per_sec: Limits::rate(),
            concurrency: Limits::concurrency(),
            timeout_ms: Limits::timeout(),
        }
    }
}
