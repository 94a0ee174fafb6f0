//! Gateways described by profile files (`channels/*.toml`), not code.
//!
//! A profile says how to send one message, how to read the provider's answer, how the
//! provider reports delivery (webhook and/or polling) and how those reports authenticate.
//! Everything here is pure: [`Profile`] builds [`HttpRequest`]s and reads responses and
//! webhook bodies; the caller owns the HTTP client, the server and the clock.
//!
//! # Templates
//! URLs, headers, auth values, fields and paths are Handlebars templates (strict, no HTML
//! escaping) over: `to` (as `phone_format` says), `to_digits` (79161234567), `to_plus`
//! (+79161234567), `text`, `message_id` (ours: pass it as the provider's client id where
//! there is one), `sender`, `base_url`, `callback_url`, `provider_message_id` (polling)
//! and `secret.NAME`. Helpers: `{{json x}}` (a JSON literal), `{{urlencode x}}`.
//! `${ENV_NAME}` anywhere in a template or webhook secret is replaced by that secret from
//! the map given at load; a missing one is a load error. Secrets are never logged:
//! [`Profile`] and [`HttpRequest`] print redacted.
//!
//! # Load errors
//! Unknown keys, wrong types, bad templates, missing secrets and unusable paths fail at
//! load, naming the file and the key (`send.auth.password`), never a secret's value. Each
//! template is also rendered once with a sample message, so an unknown variable fails
//! at load, not on the first send.

pub mod encoding;
mod gateway;
pub mod profile;
mod request;
mod response;
mod template;
pub mod tracking;
mod types;
pub mod webhook;

use std::fmt;
use std::sync::Arc;

pub use encoding::{SmsEncoding, SmsText};
pub use gateway::ProfileGateway;
pub use profile::{Limits, Method, ProfileFile, Reply};
pub use request::HttpRequest;
pub use types::{
    BuildError, DeliveryStatus, LoadOptions, PollOutcome, PollQuery, ProfileError, Receipt,
    SendOutcome, SmsMessage,
};
pub use webhook::WebhookError;

use template::{CodeSet, Templates};

/// A loaded, validated profile; cheap to clone.
#[derive(Clone)]
pub struct Profile {
    inner: Arc<Inner>,
}

struct Inner {
    file: ProfileFile,
    templates: Templates,
    base_url: String,
    callback_url: String,
    statuses: Vec<(CodeSet, DeliveryStatus)>,
    otherwise: DeliveryStatus,
    send: response::Compiled,
    poll: Option<response::Compiled>,
    webhook: Option<webhook::Compiled>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.inner.file.name)
            .field("base_url", &self.inner.base_url)
            .finish_non_exhaustive()
    }
}

impl Profile {
    /// Reads and validates a profile; `origin` (usually the file name) names it in errors
    /// until its `name` is known.
    pub fn load(
        origin: &str,
        toml_text: &str,
        options: &LoadOptions,
    ) -> Result<Self, ProfileError> {
        let de = toml::Deserializer::new(toml_text);
        let file: ProfileFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner
                .span()
                .map(|s| format!("line {}: ", toml_text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            ProfileError {
                profile: origin.to_owned(),
                key,
                message: format!("{line}{}", inner.message().trim()),
            }
        })?;
        let err = |key: &str, message: String| ProfileError {
            profile: file.name.clone(),
            key: key.to_owned(),
            message,
        };
        let mut templates = Templates::new(&file.name, &options.secrets);
        request::register(&mut templates, "send", &file.send)?;
        let send = response::Compiled::new(&mut templates, "send", &file.send.response, true)?;
        let poll = match &file.poll {
            Some(spec) => {
                request::register(&mut templates, "poll", spec)?;
                Some(response::Compiled::new(
                    &mut templates,
                    "poll",
                    &spec.response,
                    false,
                )?)
            }
            None => None,
        };
        let webhook = match &file.receipts {
            Some(spec) => Some(webhook::Compiled::new(spec, &mut templates)?),
            None => None,
        };
        let mut statuses = Vec::new();
        for (key, values, status) in [
            (
                "delivered",
                &file.statuses.delivered,
                DeliveryStatus::Delivered,
            ),
            ("expired", &file.statuses.expired, DeliveryStatus::Expired),
            ("failed", &file.statuses.failed, DeliveryStatus::Failed),
            ("pending", &file.statuses.pending, DeliveryStatus::Pending),
        ] {
            let set = CodeSet::new(values).map_err(|m| err(&format!("statuses.{key}"), m))?;
            statuses.push((set, status));
        }
        if (file.receipts.is_some() || file.poll.is_some())
            && statuses.iter().all(|(set, _)| set.is_empty())
        {
            return Err(err("statuses", "no status values are mapped".into()));
        }
        let base_url = options
            .base_url
            .clone()
            .unwrap_or_else(|| file.base_url.clone())
            .trim_end_matches('/')
            .to_owned();
        let profile = Profile {
            inner: Arc::new(Inner {
                otherwise: file.statuses.otherwise.unwrap_or(DeliveryStatus::Pending),
                base_url,
                callback_url: options.callback_url.clone().unwrap_or_default(),
                templates,
                statuses,
                send,
                poll,
                webhook,
                file,
            }),
        };
        profile.self_check()?;
        Ok(profile)
    }

    /// Renders every template once with a sample message and id.
    fn self_check(&self) -> Result<(), ProfileError> {
        let sample = SmsMessage {
            message_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            to: "+79161234567",
            text: "Проверка {}",
            sender: Some("Vestnik"),
        };
        let fail = |e: BuildError| match e {
            BuildError::Render { key, message } => ProfileError {
                profile: self.name().to_owned(),
                key,
                message,
            },
            other => ProfileError {
                profile: self.name().to_owned(),
                key: "send".into(),
                message: other.to_string(),
            },
        };
        self.build_send(&sample).map_err(fail)?;
        let ctx = self.context(&sample, "sample-provider-id").map_err(fail)?;
        self.inner
            .send
            .check_paths(&self.inner.templates, &ctx)
            .map_err(fail)?;
        if let Some(poll) = &self.inner.poll {
            let query = PollQuery {
                provider_message_id: "sample-provider-id",
                to: sample.to,
            };
            self.build_poll(&query).map_err(fail)?;
            poll.check_paths(&self.inner.templates, &ctx)
                .map_err(fail)?;
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.inner.file.name
    }

    pub fn limits(&self) -> Limits {
        self.inner.file.limits
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Whether the provider can be asked for a message's status.
    pub fn polls(&self) -> bool {
        self.inner.poll.is_some()
    }

    /// Whether the provider posts delivery reports.
    pub fn has_webhook(&self) -> bool {
        self.inner.webhook.is_some()
    }

    /// What to answer an accepted webhook with.
    pub fn webhook_reply(&self) -> Reply {
        self.inner
            .file
            .receipts
            .as_ref()
            .map(|r| r.reply.clone())
            .unwrap_or_default()
    }

    /// Maps a provider status value to ours.
    pub fn map_status(&self, provider_status: &str) -> DeliveryStatus {
        self.inner
            .statuses
            .iter()
            .find(|(set, _)| set.matches(provider_status))
            .map(|(_, status)| *status)
            .unwrap_or(self.inner.otherwise)
    }

    /// The variables every template sees.
    fn context(
        &self,
        m: &SmsMessage<'_>,
        provider_id: &str,
    ) -> Result<serde_json::Value, BuildError> {
        let digits: String = m.to.chars().filter(char::is_ascii_digit).collect();
        if !(10..=15).contains(&digits.len()) {
            return Err(BuildError::BadPhone(crate::pii::mask_phone(m.to)));
        }
        let plus = format!("+{digits}");
        let to = match self.inner.file.phone_format {
            profile::PhoneFormat::Digits => digits.clone(),
            profile::PhoneFormat::Plus => plus.clone(),
        };
        let sender = m
            .sender
            .or(self.inner.file.sender.as_deref())
            .unwrap_or_default();
        Ok(serde_json::json!({
            "to": to,
            "to_digits": digits,
            "to_plus": plus,
            "text": m.text,
            "message_id": m.message_id,
            "sender": sender,
            "base_url": self.inner.base_url,
            "callback_url": self.inner.callback_url,
            "provider_message_id": provider_id,
            "secret": self.inner.templates.secrets_json(),
        }))
    }

    /// The HTTP request that sends one message.
    pub fn build_send(&self, m: &SmsMessage<'_>) -> Result<HttpRequest, BuildError> {
        let ctx = self.context(m, "")?;
        request::build(&self.inner.templates, "send", &self.inner.file.send, &ctx)
    }

    /// Reads the provider's answer to [`Self::build_send`]'s request.
    pub fn classify_send(&self, m: &SmsMessage<'_>, http_status: u16, body: &[u8]) -> SendOutcome {
        let ctx = match self.context(m, "") {
            Ok(ctx) => ctx,
            Err(e) => return SendOutcome::Permanent(e.to_string()),
        };
        self.inner
            .send
            .classify_send(&self.inner.templates, &ctx, http_status, body)
    }

    /// The status request for one message.
    pub fn build_poll(&self, q: &PollQuery<'_>) -> Result<HttpRequest, BuildError> {
        let spec = self
            .inner
            .file
            .poll
            .as_ref()
            .ok_or_else(|| BuildError::NoPoll(self.name().into()))?;
        let ctx = self.poll_context(q)?;
        request::build(&self.inner.templates, "poll", spec, &ctx)
    }

    /// Reads the answer to [`Self::build_poll`]'s request.
    pub fn parse_poll(&self, q: &PollQuery<'_>, http_status: u16, body: &[u8]) -> PollOutcome {
        let Some(poll) = &self.inner.poll else {
            return PollOutcome::Permanent(BuildError::NoPoll(self.name().into()).to_string());
        };
        let ctx = match self.poll_context(q) {
            Ok(ctx) => ctx,
            Err(e) => return PollOutcome::Permanent(e.to_string()),
        };
        poll.classify_poll(self, &ctx, q.provider_message_id, http_status, body)
    }

    fn poll_context(&self, q: &PollQuery<'_>) -> Result<serde_json::Value, BuildError> {
        let m = SmsMessage {
            message_id: "",
            to: q.to,
            text: "",
            sender: None,
        };
        self.context(&m, q.provider_message_id)
    }

    /// Checks a webhook's signature or token (constant time). `query` is the raw query
    /// string without `?`.
    pub fn verify_webhook(
        &self,
        query: Option<&str>,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> Result<(), WebhookError> {
        match &self.inner.webhook {
            Some(w) => w.verify(query, headers, body),
            None => Err(WebhookError::NotConfigured(self.name().into())),
        }
    }

    /// Reads a (verified) webhook body into receipts; entries of other kinds are skipped.
    pub fn parse_webhook(&self, body: &[u8]) -> Result<Vec<Receipt>, WebhookError> {
        match &self.inner.webhook {
            Some(w) => w.parse(self, body),
            None => Err(WebhookError::NotConfigured(self.name().into())),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_load;
