//! Gateways described by profile files (`channels/*.toml`), not code: SMS, hybrid mail and
//! fax over HTTP APIs.
//!
//! A profile says how to send one message, how to read the provider's answer, how the
//! provider reports delivery (webhook and/or polling) and how those reports authenticate.
//! Everything here but [`ProfileGateway`] is pure: [`Profile`] builds [`HttpRequest`]s and
//! reads responses and webhook bodies; the caller owns the HTTP client, the server and the
//! clock. A profile has one `kind` (`sms`, `mail`, `fax`) and sends only [`Message`]s of it.
//!
//! # Templates
//! URLs, headers, auth values, fields and paths are Handlebars templates (strict, no HTML
//! escaping). Every kind sees `message_id` (ours: pass it as the provider's client id where
//! there is one), `sender`, `base_url`, `callback_url`, `provider_message_id` (polling) and
//! `secret.NAME`; then
//! - `sms`: `to` (as `phone_format` says), `to_digits` (79161234567), `to_plus`
//!   (+79161234567), `text`;
//! - `mail`: `recipient_name`, `postcode`, `address`, `service` (the profile's, default
//!   `registered_with_receipt`), `pdf_base64`, `pdf_sha256` (hex), `pages`;
//! - `fax`: `fax_number` (as `phone_format` says), `fax_digits`, `fax_plus`, `pdf_base64`,
//!   `pdf_sha256`, `pages`.
//!
//! A multipart `[send]` may carry the PDF itself as a file part (`file = { field = … }`).
//! An SMS profile with a JSON or form `[send]` may add `[send_batch]`, the provider's
//! endpoint for many messages in one request (`batch`).
//! Helpers: `{{json x}}` (a JSON literal), `{{urlencode x}}`. `${ENV_NAME}` anywhere in a
//! template or webhook secret is replaced by that secret from the map given at load; a
//! missing one is a load error. Secrets are never logged: [`Profile`] and [`HttpRequest`]
//! print redacted.
//!
//! # Statuses and reports
//! `[statuses]` maps provider values to [`DeliveryStatus`]: `delivered`, `failed`,
//! `expired`, `pending`, `retry` (not final: resend later, e.g. a busy fax line) and
//! `delivered_returned` (a letter returned unclaimed after the storage period: delivered,
//! with [`RETURNED_UNCLAIMED_REASON`]). A status may be read from several paths joined with
//! `.` (`status = ["/event/operation", "/event/attribute"]` reads `3.1`), and lists take
//! families (`"3.*"`) and prefixes (`"fail*"`); the most specific match wins. A `report`
//! table (`[receipts.report]`, `[poll.response.report]`) reads the event's name, a reason,
//! base64 evidence (a scanned return receipt), pages sent and submitted (a "delivered" fax
//! with fewer pages sent than submitted is failed) and named details (`csid`, …).
//!
//! # Load errors
//! Unknown keys, wrong types, bad templates, missing secrets and unusable paths fail at
//! load, naming the file and the key (`send.auth.password`), never a secret's value. Each
//! template is also rendered once with a sample message of the profile's kind, so a
//! variable that kind does not get fails at load, not on the first send.

mod batch;
pub mod encoding;
mod gateway;
mod multipart;
pub mod profile;
mod receipt;
mod request;
mod response;
mod template;
pub mod tracking;
mod types;
mod variables;
pub mod webhook;

use std::fmt;
use std::sync::Arc;

pub use batch::SendBatch;
pub use encoding::{SmsEncoding, SmsText};
pub use gateway::{ProfileGateway, load_profile, load_profile_file};
pub use profile::{Kind, Limits, Method, ProfileFile, Reply};
pub use request::HttpRequest;
pub use tracking::{TrackingError, TrackingNumber, parse_tracking_number};
pub use types::{
    BuildError, DeliveryStatus, Document, FaxMessage, LoadOptions, MailMessage, Message,
    PollOutcome, PollQuery, Postal, ProfileError, RETURNED_UNCLAIMED_REASON, Receipt, SendOutcome,
    SmsMessage,
};
pub use webhook::WebhookError;

use receipt::StatusTable;
use template::Templates;

/// The postal service a mail profile orders unless it says otherwise.
pub const DEFAULT_MAIL_SERVICE: &str = "registered_with_receipt";

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
    statuses: StatusTable,
    send: response::Compiled,
    poll: Option<response::Compiled>,
    webhook: Option<webhook::Compiled>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.inner.file.name)
            .field("kind", &self.inner.file.kind)
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
        let kind = file.kind;
        if file.service.is_some() && kind != Kind::Mail {
            return Err(err(
                "service",
                "only mail profiles order a postal service".into(),
            ));
        }
        if file.send.file.is_some() && kind == Kind::Sms {
            return Err(err("send.file", "an SMS has no document".into()));
        }
        if file.poll.as_ref().is_some_and(|p| p.file.is_some()) {
            return Err(err(
                "poll.file",
                "a status request sends no document".into(),
            ));
        }
        if file.send.response.tracking_number.is_some() && kind != Kind::Mail {
            return Err(err(
                "send.response.tracking_number",
                "only mail has a postal tracking number".into(),
            ));
        }
        let callback_url = options.callback_url.clone().unwrap_or_default();
        let mut templates = Templates::new(&file.name, &options.secrets);
        request::register(&mut templates, "send", &file.send)?;
        batch::check(&file.name, kind, &file)?;
        if let Some(spec) = &file.send_batch {
            templates.add("send_batch.url", &spec.url)?;
            if let Some(name) = &spec.item_name {
                templates.add("send_batch.item_name", name)?;
            }
            if let Some(value) = &spec.item_value {
                templates.add("send_batch.item_value", value)?;
            }
            if let Some(entry) = &spec.entry {
                templates.add("send_batch.entry", entry)?;
            }
        }
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
            Some(spec) => {
                let w = webhook::Compiled::new(spec, &mut templates, &callback_url)?;
                if w.missing_url() {
                    return Err(err(
                        "receipts.auth",
                        "the signature covers our callback URL: give callback_url at load \
                         (or auth.url)"
                            .into(),
                    ));
                }
                Some(w)
            }
            None => None,
        };
        let statuses = StatusTable::new(&file.statuses).map_err(|(key, m)| err(&key, m))?;
        if (file.receipts.is_some() || file.poll.is_some()) && statuses.is_empty() {
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
                base_url,
                callback_url,
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

    /// Renders every template once with a sample message of the profile's kind.
    fn self_check(&self) -> Result<(), ProfileError> {
        const ID: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        const PDF: &[u8] = b"%PDF-1.4\n%sample\n";
        let document = Document { pdf: PDF, pages: 1 };
        let sample: Message<'_> = match self.kind() {
            Kind::Sms => Message::Sms(SmsMessage {
                message_id: ID,
                to: "+79161234567",
                text: "Проверка {}",
                sender: Some("Vestnik"),
            }),
            Kind::Mail => Message::Mail(MailMessage {
                message_id: ID,
                recipient: Postal {
                    name: "Иванов Иван Иванович",
                    postcode: "101000",
                    address: "г. Москва, ул. Мясницкая, д. 26",
                },
                document,
                sender: Some("Vestnik"),
            }),
            Kind::Fax => Message::Fax(FaxMessage {
                message_id: ID,
                to: "+74951234567",
                document,
                sender: Some("Vestnik"),
            }),
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
        self.build_send(sample).map_err(fail)?;
        if let Message::Sms(sms) = sample {
            self.check_batch(sms).map_err(fail)?;
        }
        let ctx = self.context(&sample, "sample-provider-id").map_err(fail)?;
        self.inner
            .send
            .check_paths(&self.inner.templates, &ctx)
            .map_err(fail)?;
        if let Some(poll) = &self.inner.poll {
            let to = match sample {
                Message::Sms(m) => m.to,
                Message::Fax(m) => m.to,
                Message::Mail(_) => "",
            };
            let query = PollQuery {
                provider_message_id: "sample-provider-id",
                to,
            };
            self.build_poll(&query).map_err(fail)?;
            let ctx = self.poll_context(&query).map_err(fail)?;
            poll.check_paths(&self.inner.templates, &ctx)
                .map_err(fail)?;
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.inner.file.name
    }

    pub fn kind(&self) -> Kind {
        self.inner.file.kind
    }

    pub fn limits(&self) -> Limits {
        self.inner.file.limits
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Mail: the postal service ordered (`registered_with_receipt` unless the profile says).
    pub fn service(&self) -> &str {
        self.inner
            .file
            .service
            .as_deref()
            .unwrap_or(DEFAULT_MAIL_SERVICE)
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

    /// Maps a provider status value to ours (a `delivered_returned` value is delivered).
    pub fn map_status(&self, provider_status: &str) -> DeliveryStatus {
        self.inner.statuses.classify(provider_status).status()
    }

    /// The HTTP request that sends one message.
    pub fn build_send<'a>(&self, m: impl Into<Message<'a>>) -> Result<HttpRequest, BuildError> {
        let m = m.into();
        let ctx = self.context(&m, "")?;
        let file = m.document().map(|d| d.pdf);
        request::build(
            &self.inner.templates,
            "send",
            &self.inner.file.send,
            &ctx,
            file,
        )
    }

    /// Reads the provider's answer to [`Self::build_send`]'s request.
    pub fn classify_send<'a>(
        &self,
        m: impl Into<Message<'a>>,
        http_status: u16,
        body: &[u8],
    ) -> SendOutcome {
        let m = m.into();
        let ctx = match self.context(&m, "") {
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
        request::build(&self.inner.templates, "poll", spec, &ctx, None)
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
mod tests_batch;
#[cfg(test)]
mod tests_fax;
#[cfg(test)]
mod tests_load;
#[cfg(test)]
mod tests_mail;
