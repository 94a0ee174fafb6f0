//! `[receipts]`: how a provider's delivery-report webhook is read and authenticated.

use serde::Deserialize;

use super::{Condition, ReportFields, StatusPath, TimeFormat};

/// `[receipts]`: the provider's delivery-report webhook.
///
/// A form body is read as a JSON object of its fields (`/id`); fields named `a[]` or
/// `a[k]` are gathered, in order, into an array `/a`. A `batch` entry split into lines is
/// an array of its lines (`/1` is the second line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptsSpec {
    pub format: WebhookFormat,
    #[serde(default)]
    pub batch: Option<BatchSpec>,
    /// Entries that do not match are other kinds of event and are skipped.
    #[serde(default)]
    pub only_if: Vec<Condition>,
    pub message_id: String,
    pub status: StatusPath,
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub time_format: TimeFormat,
    /// Form or multipart fields whose values are JSON documents (Phaxio's `fax`), parsed
    /// in place so paths reach inside them (`/fax/status`).
    #[serde(default)]
    pub json_fields: Vec<String>,
    /// What else each report carries.
    #[serde(default)]
    pub report: Option<ReportFields>,
    /// What to answer a valid report with (SMS.ru wants `100`).
    #[serde(default)]
    pub reply: Reply,
    pub auth: WebhookAuthSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    Form,
    Json,
    /// `multipart/form-data`, read like a form; file parts count for signatures only.
    Multipart,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// Where the array of entries is (`/data`).
    pub path: String,
    #[serde(default)]
    pub split: Split,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    #[default]
    None,
    /// Each entry is text whose lines are its fields.
    Lines,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    #[serde(default = "Reply::ok_status")]
    pub status: u16,
    #[serde(default = "Reply::ok_body")]
    pub body: String,
    #[serde(default = "Reply::text_plain")]
    pub content_type: String,
}

impl Reply {
    fn ok_status() -> u16 {
        200
    }
    fn ok_body() -> String {
        "OK".into()
    }
    fn text_plain() -> String {
        "text/plain; charset=utf-8".into()
    }
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            status: Reply::ok_status(),
            body: Reply::ok_body(),
            content_type: Reply::text_plain(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WebhookAuthSpec {
    /// HMAC-SHA256 over the raw body, in a header: `<prefix><hex or base64>`.
    HmacSha256 {
        header: String,
        secret: String,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        encoding: SignatureEncoding,
    },
    /// Phaxio's scheme: HMAC-SHA1 (hex) keyed with the webhook token over the callback URL
    /// as submitted, then every form field's name and value sorted by name, then every file
    /// part's name and the hex SHA-1 of its contents sorted by name. The URL is the
    /// `callback_url` given at load unless `url` (a template) says otherwise.
    HmacSha1UrlParams {
        header: String,
        secret: String,
        #[serde(default)]
        url: Option<String>,
    },
    /// A shared token in the query string (`?token=…` in the URL registered with the
    /// provider) or in a header.
    Token {
        #[serde(rename = "in")]
        location: TokenLocation,
        name: String,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenLocation {
    Query,
    Header,
}
