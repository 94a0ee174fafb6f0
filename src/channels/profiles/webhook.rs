//! Delivery-report webhooks: authentication (HMAC-SHA256 over the raw body, Phaxio's
//! HMAC-SHA1 over the URL and the sorted fields, or a shared token in the query or a header,
//! all compared in constant time) and parsing into receipts.

use axum::http::HeaderMap;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::multipart::split_parts;
pub use super::multipart::{ReceivedPart, parse_multipart};
use super::profile::{
    ReceiptsSpec, SignatureEncoding, Split, TimeFormat, TokenLocation, WebhookAuthSpec,
    WebhookFormat,
};
use super::receipt::{self, ReportPaths};
use super::template::{Templates, check_pointer, holds, lookup, scalar_text};
use super::{Profile, ProfileError, Receipt};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature/token: answer 401, record nothing.
    #[error("webhook not authenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated but unreadable: answer 400.
    #[error("webhook body unreadable: {0}")]
    Malformed(String),
    #[error("profile {0} has no [receipts] section")]
    NotConfigured(String),
}

enum Auth {
    Hmac {
        header: String,
        secret: Vec<u8>,
        prefix: String,
        encoding: SignatureEncoding,
    },
    Token {
        location: TokenLocation,
        name: String,
        value: String,
    },
    HmacSha1UrlParams {
        header: String,
        secret: Vec<u8>,
        url: String,
    },
}

pub(super) struct Compiled {
    spec: ReceiptsSpec,
    auth: Auth,
    paths: ReportPaths,
}

impl Compiled {
    pub fn new(
        spec: &ReceiptsSpec,
        t: &mut Templates,
        callback_url: &str,
    ) -> Result<Self, ProfileError> {
        let mut paths = vec![("receipts.message_id".to_owned(), spec.message_id.clone())];
        let status_paths = spec.status.paths();
        if status_paths.is_empty() {
            return Err(t.error("receipts.status", "no path given"));
        }
        for (i, p) in status_paths.iter().enumerate() {
            let key = match spec.status {
                super::profile::StatusPath::One(_) => "receipts.status".to_owned(),
                super::profile::StatusPath::Joined(_) => format!("receipts.status.{i}"),
            };
            paths.push((key, (*p).to_owned()));
        }
        if let Some(time) = &spec.time {
            paths.push(("receipts.time".into(), time.clone()));
        }
        if let Some(batch) = &spec.batch {
            paths.push(("receipts.batch.path".into(), batch.path.clone()));
        }
        for c in &spec.only_if {
            paths.push(("receipts.only_if.path".into(), c.path.clone()));
        }
        let fields = spec
            .report
            .as_ref()
            .map(receipt::field_paths)
            .unwrap_or_default();
        for (name, path) in &fields {
            paths.push((format!("receipts.report.{name}"), path.clone()));
        }
        for (key, path) in &paths {
            check_pointer(t, key, path)?;
        }
        if !spec.json_fields.is_empty() && spec.format == WebhookFormat::Json {
            return Err(t.error(
                "receipts.json_fields",
                "only form and multipart fields hold JSON text",
            ));
        }
        let auth = match &spec.auth {
            WebhookAuthSpec::HmacSha256 {
                header,
                secret,
                prefix,
                encoding,
            } => {
                let secret = t.resolve("receipts.auth.secret", secret)?;
                if secret.len() < 16 {
                    return Err(t.error("receipts.auth.secret", "shorter than 16 bytes"));
                }
                Auth::Hmac {
                    header: header.clone(),
                    secret: secret.into_bytes(),
                    prefix: prefix.clone(),
                    encoding: *encoding,
                }
            }
            WebhookAuthSpec::Token {
                location,
                name,
                value,
            } => {
                let value = t.resolve("receipts.auth.value", value)?;
                if value.len() < 16 {
                    return Err(t.error("receipts.auth.value", "token shorter than 16 characters"));
                }
                Auth::Token {
                    location: *location,
                    name: name.clone(),
                    value,
                }
            }
            WebhookAuthSpec::HmacSha1UrlParams {
                header,
                secret,
                url,
            } => {
                let secret = t.resolve("receipts.auth.secret", secret)?;
                if secret.len() < 16 {
                    return Err(t.error("receipts.auth.secret", "shorter than 16 bytes"));
                }
                let url = match url {
                    Some(u) => t.resolve("receipts.auth.url", u)?,
                    None => callback_url.to_owned(),
                };
                if spec.format == WebhookFormat::Json {
                    return Err(t.error(
                        "receipts.auth",
                        "this signature covers form or multipart fields, not a JSON body",
                    ));
                }
                Auth::HmacSha1UrlParams {
                    header: header.clone(),
                    secret: secret.into_bytes(),
                    url,
                }
            }
        };
        Ok(Compiled {
            paths: ReportPaths {
                status: status_paths.into_iter().map(str::to_owned).collect(),
                time: spec.time.clone(),
                time_format: spec.time_format,
                fields: fields.into_iter().collect(),
            },
            spec: spec.clone(),
            auth,
        })
    }

    /// Whether the signature needs a callback URL that was not given at load.
    pub fn missing_url(&self) -> bool {
        matches!(&self.auth, Auth::HmacSha1UrlParams { url, .. } if url.is_empty())
    }

    pub fn verify(
        &self,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        let deny = |why: &str| Err(WebhookError::Unauthenticated(why.to_owned()));
        match &self.auth {
            Auth::Hmac {
                header,
                secret,
                prefix,
                encoding,
            } => {
                let Some(given) = headers.get(header.as_str()).and_then(|v| v.to_str().ok()) else {
                    return deny(&format!("no {header} header"));
                };
                let Some(given) = given.trim().strip_prefix(prefix.as_str()) else {
                    return deny(&format!("{header} does not start with {prefix}"));
                };
                let given = match encoding {
                    SignatureEncoding::Hex => hex::decode(given.to_ascii_lowercase()).ok(),
                    SignatureEncoding::Base64 => {
                        base64::engine::general_purpose::STANDARD.decode(given).ok()
                    }
                };
                match given {
                    Some(sig) if constant_time_eq(&sig, &hmac_sha256(secret, body)) => Ok(()),
                    Some(_) => deny("signature does not match"),
                    None => deny("signature is not well-formed"),
                }
            }
            Auth::Token {
                location,
                name,
                value,
            } => {
                let given = match location {
                    TokenLocation::Query => {
                        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                            .find(|(k, _)| k == name)
                            .map(|(_, v)| v.into_owned())
                    }
                    TokenLocation::Header => headers
                        .get(name.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                };
                match given {
                    Some(g) if constant_time_eq(g.as_bytes(), value.as_bytes()) => Ok(()),
                    Some(_) => deny(&format!("wrong {name}")),
                    None => deny(&format!("no {name}")),
                }
            }
            Auth::HmacSha1UrlParams {
                header,
                secret,
                url,
            } => {
                let Some(given) = headers.get(header.as_str()).and_then(|v| v.to_str().ok()) else {
                    return deny(&format!("no {header} header"));
                };
                let Some(given) = hex::decode(given.trim().to_ascii_lowercase()).ok() else {
                    return deny("signature is not well-formed");
                };
                let (fields, files) = match self.spec.format {
                    WebhookFormat::Multipart => match parse_multipart(body) {
                        Ok(parts) => split_parts(parts),
                        Err(e) => return deny(&format!("body unreadable: {e}")),
                    },
                    _ => (
                        form_urlencoded::parse(body).into_owned().collect(),
                        Vec::new(),
                    ),
                };
                let expected = hmac_sha1(secret, &signed_text(url, &fields, &files));
                if constant_time_eq(&given, &expected) {
                    Ok(())
                } else {
                    deny("signature does not match")
                }
            }
        }
    }

    pub fn parse(&self, profile: &Profile, body: &[u8]) -> Result<Vec<Receipt>, WebhookError> {
        let malformed = |why: String| WebhookError::Malformed(why);
        let mut doc = match self.spec.format {
            WebhookFormat::Json => {
                serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON: {e}")))?
            }
            WebhookFormat::Form => form_to_value(body),
            WebhookFormat::Multipart => {
                let parts = parse_multipart(body).map_err(malformed)?;
                fields_to_value(split_parts(parts).0)
            }
        };
        for name in &self.spec.json_fields {
            if let Some(slot) = doc.get_mut(name.as_str())
                && let Value::String(text) = slot
            {
                *slot = serde_json::from_str(text)
                    .map_err(|e| malformed(format!("field {name} is not JSON: {e}")))?;
            }
        }
        let entries: Vec<Value> = match &self.spec.batch {
            None => vec![doc],
            Some(batch) => match lookup(&doc, &batch.path) {
                Some(Value::Array(items)) => items.clone(),
                Some(single) => vec![single.clone()],
                None => return Err(malformed(format!("no entries at {}", batch.path))),
            },
        };
        let split = self
            .spec
            .batch
            .as_ref()
            .map(|b| b.split)
            .unwrap_or_default();
        let batched = self.spec.batch.is_some();
        let mut receipts = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let raw = match entry {
                _ if !batched => String::from_utf8_lossy(body).into_owned(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let entry = match (split, entry) {
                (Split::Lines, Value::String(s)) => Value::Array(
                    s.lines()
                        .map(|l| Value::String(l.trim_end_matches('\r').to_owned()))
                        .collect(),
                ),
                _ => entry.clone(),
            };
            if !self.spec.only_if.iter().all(|c| holds(c, &c.path, &entry)) {
                continue;
            }
            let field = |path: &str, what: &str| {
                lookup(&entry, path)
                    .and_then(scalar_text)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| malformed(format!("entry {i}: no {what} at {path}")))
            };
            let provider_message_id = field(&self.spec.message_id, "message id")?;
            let r = receipt::read(
                &profile.inner.statuses,
                provider_message_id,
                &entry,
                &self.paths,
                raw,
            )
            .map_err(|why| malformed(format!("entry {i}: {why}")))?;
            receipts.push(r);
        }
        Ok(receipts)
    }
}

/// What Phaxio signs: the URL, then `name value` of each field sorted by name, then
/// `name sha1hex(contents)` of each file part sorted by name, all run together.
pub fn signed_text(url: &str, fields: &[(String, String)], files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use sha1::{Digest as _, Sha1};
    let mut fields: Vec<&(String, String)> = fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut files: Vec<&(String, Vec<u8>)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = url.as_bytes().to_vec();
    for (name, value) in fields {
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(value.as_bytes());
    }
    for (name, data) in files {
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(hex::encode(Sha1::digest(data)).as_bytes());
    }
    text
}

/// A form body as a JSON object of text fields; `a[]=x&a[k]=y` gathers into `"a": [x, y]`,
/// and a plain field given twice keeps the last value.
pub fn form_to_value(body: &[u8]) -> Value {
    fields_to_value(form_urlencoded::parse(body).into_owned())
}

/// Named text fields as a JSON object, gathered as [`form_to_value`] says.
fn fields_to_value(fields: impl IntoIterator<Item = (String, String)>) -> Value {
    let mut object = serde_json::Map::new();
    for (key, value) in fields {
        let value = Value::String(value);
        match key.find('[').filter(|_| key.ends_with(']')) {
            Some(open) => {
                let slot = object
                    .entry(&key[..open])
                    .or_insert_with(|| Value::Array(Vec::new()));
                match slot {
                    Value::Array(items) => items.push(value),
                    other => *other = Value::Array(vec![value]),
                }
            }
            None => {
                object.insert(key, value);
            }
        }
    }
    Value::Object(object)
}

pub(super) fn parse_time(v: &Value, format: TimeFormat) -> Option<DateTime<Utc>> {
    let text = scalar_text(v)?;
    let text = text.trim();
    match format {
        TimeFormat::Unix => DateTime::from_timestamp(text.parse::<f64>().ok()? as i64, 0),
        TimeFormat::UnixMs => DateTime::from_timestamp_millis(text.parse::<f64>().ok()? as i64),
        TimeFormat::Rfc3339 => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA1 (RFC 2104), as Phaxio signs webhooks.
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Equal bytes, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}
