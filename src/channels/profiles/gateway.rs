//! The HTTP gateway: a provider profile (SMS, mail or fax) put on the wire with reqwest.
//!
//! The profile (pure) says what to send and how to read the answer; this file only does
//! the I/O, within the profile's concurrency limit and timeout. Our message id goes out as
//! the provider's client id where the API has one, which closes the duplicate window on
//! providers that de-duplicate by it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::{
    Document, FaxMessage, HttpRequest, Kind, LoadOptions, MailMessage, Message, Method,
    PollOutcome, PollQuery, Postal, Profile, SendOutcome, SmsMessage,
};
use crate::channels::{Destination, Exchange, Outgoing, SendResult};
use crate::settings::Sms as SmsSettings;
use crate::templates::Rendered;

#[derive(Debug, Clone)]
pub struct ProfileGateway {
    profile: Profile,
    client: reqwest::Client,
    sender: Option<String>,
    /// `<kind>:<profile>` (`sms:smsru`, `fax:phaxio`): what messages record as their gateway.
    name: Arc<str>,
    /// Messages per request: 1, or up to the profile's `[send_batch] max` when allowed.
    batch: usize,
}

impl ProfileGateway {
    /// The SMS gateway of `[sms]`.
    pub fn from_settings(settings: &SmsSettings) -> anyhow::Result<Self> {
        let profile = load_profile(settings)?;
        anyhow::ensure!(
            profile.kind() == Kind::Sms,
            "profile {} sends {}, not SMS",
            profile.name(),
            profile.kind().as_str()
        );
        Ok(Self::new(profile, Some(settings.sender.clone()))?.with_batch_size(settings.batch_size))
    }

    /// A gateway for any loaded profile; `sender` (if not empty) overrides the profile's.
    pub fn new(profile: Profile, sender: Option<String>) -> anyhow::Result<Self> {
        let limits = profile.limits();
        crate::channels::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(limits.timeout_ms))
            .connect_timeout(Duration::from_millis(limits.timeout_ms.min(5_000)))
            .pool_max_idle_per_host(limits.concurrency)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            name: format!("{}:{}", profile.kind().as_str(), profile.name()).into(),
            profile,
            client,
            sender: sender.filter(|s| !s.is_empty()),
            batch: 1,
        })
    }

    /// Sends up to `n` messages per request where the profile has a `[send_batch]`
    /// endpoint (never more than its `max`); 1 sends each message on its own.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch = n.clamp(1, self.profile.batch_max());
        self
    }

    /// Messages per request (see [`Self::with_batch_size`]).
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> Kind {
        self.profile.kind()
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The number, for a profile whose batches are answered by number (see
    /// [`Profile::batch_key`]); `None` otherwise or for anything but an SMS.
    pub fn batch_key(&self, message: &Outgoing) -> Option<String> {
        match &message.to {
            Destination::Phone(to) if self.batch > 1 => self.profile.batch_key(to),
            _ => None,
        }
    }

    /// Sends a batch, at most the profile's `concurrency` requests at a time: SMS text,
    /// or a letter's PDF to a postal address (mail) or a fax number.
    pub async fn send(&self, batch: Vec<Outgoing>) -> Vec<SendResult> {
        let concurrency = self.profile.limits().concurrency.max(1);
        if self.batch > 1 && batch.len() > 1 {
            // The route already grouped by number (one concurrency slot per request): a
            // split here serves direct callers only, so its requests go one at a time.
            let groups =
                crate::channels::in_distinct_groups(batch, self.batch, |o| self.batch_key(o));
            let split = groups.len() > 1 && self.profile.batch_answers_by_number();
            let mut results: Vec<(usize, SendResult)> = futures::stream::iter(groups)
                .map(|group| async move {
                    let (at, chunk): (Vec<usize>, Vec<Outgoing>) = group.into_iter().unzip();
                    at.into_iter()
                        .zip(self.send_together(chunk).await)
                        .collect::<Vec<_>>()
                })
                .buffered(if split { 1 } else { concurrency })
                .flat_map(futures::stream::iter)
                .collect()
                .await;
            results.sort_unstable_by_key(|(at, _)| *at);
            return results.into_iter().map(|(_, result)| result).collect();
        }
        futures::stream::iter(batch)
            .map(|message| self.send_outgoing(message))
            .buffered(concurrency)
            .collect()
            .await
    }

    /// Sends SMS in one `[send_batch]` request; anything else in `chunk` is refused.
    /// Each message's `exchange` is the whole request's and answer's digests.
    async fn send_together(&self, chunk: Vec<Outgoing>) -> Vec<SendResult> {
        let sender = self.sender.as_deref();
        let mut messages = Vec::with_capacity(chunk.len());
        let mut refused: Vec<Option<SendResult>> = Vec::with_capacity(chunk.len());
        for o in &chunk {
            match (&o.to, &o.content) {
                (Destination::Phone(to), Rendered::Sms { text }) => {
                    messages.push(SmsMessage {
                        message_id: &o.message_id,
                        to,
                        text,
                        sender,
                    });
                    refused.push(None);
                }
                _ => refused.push(Some(SendResult::Permanent(format!(
                    "only SMS go in a batch through the {} gateway {}",
                    self.kind().as_str(),
                    self.name
                )))),
            }
        }
        let (outcomes, exchange) = match self.profile.build_send_batch(&messages) {
            Err(e) => (
                vec![SendOutcome::Permanent(e.to_string()); messages.len()],
                Exchange::default(),
            ),
            Ok(batch) => match batch.request().cloned() {
                None => (batch.outcomes(&self.profile, Err("")), Exchange::default()),
                Some(request) => {
                    let mut exchange = Exchange::of(&request.body, None);
                    let answer = self.execute(request).await;
                    let outcomes = match &answer {
                        Ok((status, body)) => {
                            exchange.response_sha256 = Exchange::of(body, None).request_sha256;
                            batch.outcomes(&self.profile, Ok((*status, body)))
                        }
                        Err(why) => batch.outcomes(&self.profile, Err(why)),
                    };
                    (outcomes, exchange)
                }
            },
        };
        let mut outcomes = messages.iter().zip(outcomes);
        refused
            .into_iter()
            .map(|refused| {
                if let Some(r) = refused {
                    return r;
                }
                let Some((m, outcome)) = outcomes.next() else {
                    return SendResult::Transient("no outcome for this message".into());
                };
                self.result(m.message_id, m.text.as_bytes(), outcome, exchange.clone())
            })
            .collect()
    }

    async fn send_outgoing(&self, message: Outgoing) -> SendResult {
        let id = message.message_id.as_str();
        match (&message.to, &message.content) {
            (Destination::Phone(to), Rendered::Sms { text }) => {
                self.send_message(SmsMessage {
                    message_id: id,
                    to,
                    text,
                    sender: None,
                })
                .await
            }
            (Destination::Postal { name, address }, Rendered::Pdf { pdf, pages }) => {
                self.send_message(MailMessage {
                    message_id: id,
                    recipient: Postal {
                        name,
                        postcode: &address.postcode,
                        address: &address.address,
                    },
                    document: Document { pdf, pages: *pages },
                    sender: None,
                })
                .await
            }
            (Destination::Fax { number: to, .. }, Rendered::Pdf { pdf, pages }) => {
                self.send_message(FaxMessage {
                    message_id: id,
                    to,
                    document: Document { pdf, pages: *pages },
                    sender: None,
                })
                .await
            }
            _ => SendResult::Permanent(format!(
                "this content cannot go through the {} gateway {}",
                self.kind().as_str(),
                self.name
            )),
        }
    }

    /// Sends one message of the profile's kind; the gateway's sender (from settings) is used
    /// unless the message names one. `content_sha256` is of the text or the PDF.
    pub async fn send_message<'a>(&self, message: impl Into<Message<'a>>) -> SendResult {
        let message = message.into();
        let content = message.content_bytes().to_vec();
        let (outcome, exchange) = self.exchange(message).await;
        self.result(message.message_id(), &content, outcome, exchange)
    }

    /// What the dispatcher records of one message's send: the provider's answer, with the
    /// digest and copy of what was sent (`content`: the text or the PDF).
    fn result(
        &self,
        message_id: &str,
        content: &[u8],
        outcome: SendOutcome,
        exchange: Exchange,
    ) -> SendResult {
        let content_sha256 = hex::encode(Sha256::digest(content));
        match outcome {
            SendOutcome::Accepted {
                provider_message_id,
                tracking_number,
            } => {
                if provider_message_id.is_empty() {
                    tracing::warn!(
                        message_id = %message_id,
                        gateway = %self.name,
                        "accepted without a provider id: its delivery report cannot be matched"
                    );
                }
                if let Some(n) = tracking_number {
                    tracing::info!(
                        message_id = %message_id,
                        gateway = %self.name,
                        tracking_number = %n,
                        "letter accepted"
                    );
                }
                SendResult::Accepted {
                    gateway_message_id: provider_message_id,
                    content_sha256,
                    content: content.to_vec(),
                    exchange,
                }
            }
            SendOutcome::Transient(why) => SendResult::Transient(why),
            SendOutcome::Permanent(why) => SendResult::Permanent(why),
        }
    }

    /// Sends one message and reports the provider's answer as is (with a mail profile's
    /// verified tracking number); the gateway's sender applies as in [`Self::send_message`].
    pub async fn send_outcome<'a>(&self, message: impl Into<Message<'a>>) -> SendOutcome {
        self.exchange(message).await.0
    }

    /// As [`Self::send_outcome`], with the digests of the request body sent and the
    /// answer received, for the ledger.
    async fn exchange<'a>(&self, message: impl Into<Message<'a>>) -> (SendOutcome, Exchange) {
        let mut message = message.into();
        let sender = self.sender.as_deref();
        match &mut message {
            Message::Sms(m) => m.sender = m.sender.or(sender),
            Message::Mail(m) => m.sender = m.sender.or(sender),
            Message::Fax(m) => m.sender = m.sender.or(sender),
        }
        let request = match self.profile.build_send(message) {
            Ok(r) => r,
            Err(e) => return (SendOutcome::Permanent(e.to_string()), Exchange::default()),
        };
        let mut exchange = Exchange::of(&request.body, None);
        match self.execute(request).await {
            Ok((status, body)) => {
                exchange.response_sha256 = Exchange::of(&body, None).request_sha256;
                (self.profile.classify_send(message, status, &body), exchange)
            }
            // Connection refused, timeout: the provider may or may not have the message;
            // a retry is the at-least-once side of that doubt.
            Err(why) => (SendOutcome::Transient(why), exchange),
        }
    }

    /// Asks the provider for a message's status (the profile's `[poll]`), with the same
    /// client, timeout and limits as sends. `to` is the phone or fax number (unused for
    /// mail).
    pub async fn poll(&self, provider_message_id: &str, to: &str) -> PollOutcome {
        let query = PollQuery {
            provider_message_id,
            to,
        };
        let request = match self.profile.build_poll(&query) {
            Ok(r) => r,
            Err(e) => return PollOutcome::Permanent(e.to_string()),
        };
        match self.execute(request).await {
            Ok((status, body)) => self.profile.parse_poll(&query, status, &body),
            Err(why) => PollOutcome::Transient(why),
        }
    }

    /// The request on the wire; `Err` is a transport failure (no URL: it may hold a key).
    async fn execute(&self, request: HttpRequest) -> Result<(u16, Vec<u8>), String> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut builder = self.client.request(method, &request.url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| format!("request failed: {}", without_url(e)))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer failed: {}", without_url(e)))?;
        Ok((status, body.to_vec()))
    }
}

/// reqwest's errors quote the URL, and profiles carry credentials in query strings.
fn without_url(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("{kind}: {}", e.without_url())
}

/// Loads `<profiles_dir>/<profile>.toml` with secrets from the environment (overridden by
/// `sms.secrets`).
pub fn load_profile(settings: &SmsSettings) -> anyhow::Result<Profile> {
    let secrets = settings
        .secrets
        .iter()
        .map(|(name, value)| (name.clone(), value.expose_secret().to_owned()))
        .collect();
    load_profile_file(
        &settings.profiles_dir,
        &settings.profile,
        secrets,
        Some(settings.base_url.clone()),
        Some(settings.callback_url.clone()),
    )
}

/// Loads `<dir>/<name>.toml`, any kind. Secrets come from the environment, overridden by
/// `secrets`; an empty `base_url` or `callback_url` counts as not given.
pub fn load_profile_file(
    dir: &Path,
    name: &str,
    secrets: HashMap<String, String>,
    base_url: Option<String>,
    callback_url: Option<String>,
) -> anyhow::Result<Profile> {
    let path = dir.join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading gateway profile {}", path.display()))?;
    let mut all: HashMap<String, String> = std::env::vars().collect();
    all.extend(secrets);
    let options = LoadOptions {
        secrets: all,
        base_url: base_url.filter(|u| !u.is_empty()),
        callback_url: callback_url.filter(|u| !u.is_empty()),
    };
    Ok(Profile::load(&path.display().to_string(), &text, &options)?)
}
