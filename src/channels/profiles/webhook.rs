//! Delivery-report webhooks: authentication (HMAC-SHA256 over the raw body, or a shared
//! token in the query or a header, compared in constant time) and parsing into receipts.

use axum::http::HeaderMap;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::profile::{
    ReceiptsSpec, SignatureEncoding, Split, TimeFormat, TokenLocation, WebhookAuthSpec,
    WebhookFormat,
};
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
}

pub(super) struct Compiled {
    spec: ReceiptsSpec,
    auth: Auth,
}

impl Compiled {
    pub fn new(spec: &ReceiptsSpec, t: &mut Templates) -> Result<Self, ProfileError> {
        let mut paths = vec![
            ("receipts.message_id", &spec.message_id),
            ("receipts.status", &spec.status),
        ];
        if let Some(time) = &spec.time {
            paths.push(("receipts.time", time));
        }
        if let Some(batch) = &spec.batch {
            paths.push(("receipts.batch.path", &batch.path));
        }
        for c in &spec.only_if {
            paths.push(("receipts.only_if.path", &c.path));
        }
        for (key, path) in paths {
            check_pointer(t, key, path)?;
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
        };
        Ok(Compiled {
            spec: spec.clone(),
            auth,
        })
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
        }
    }

    pub fn parse(&self, profile: &Profile, body: &[u8]) -> Result<Vec<Receipt>, WebhookError> {
        let malformed = |why: String| WebhookError::Malformed(why);
        let doc = match self.spec.format {
            WebhookFormat::Json => {
                serde_json::from_slice(body).map_err(|e| malformed(format!("not JSON: {e}")))?
            }
            WebhookFormat::Form => form_to_value(body),
        };
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
            let provider_status = field(&self.spec.status, "status")?;
            let provider_time = self
                .spec
                .time
                .as_ref()
                .and_then(|p| lookup(&entry, p))
                .and_then(|v| parse_time(v, self.spec.time_format));
            receipts.push(Receipt {
                provider_message_id,
                status: profile.map_status(&provider_status),
                provider_status,
                provider_time,
                raw,
            });
        }
        Ok(receipts)
    }
}

/// A form body as a JSON object of text fields; `a[]=x&a[k]=y` gathers into `"a": [x, y]`,
/// and a plain field given twice keeps the last value.
pub fn form_to_value(body: &[u8]) -> Value {
    let mut object = serde_json::Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let value = Value::String(value.into_owned());
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
                object.insert(key.into_owned(), value);
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

/// HMAC-SHA256 (RFC 2104) over `sha2`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Equal bytes, in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
