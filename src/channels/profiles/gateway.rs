//! The SMS gateway: a provider profile put on the wire with reqwest.
//!
//! The profile (pure) says what to send and how to read the answer; this file only does
//! the I/O, within the profile's concurrency limit and timeout. Our message id goes out as
//! the provider's client id where the API has one, which closes the duplicate window on
//! providers that de-duplicate by it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::{LoadOptions, Method, Profile, SendOutcome, SmsMessage};
use crate::channels::{Destination, Outgoing, SendResult};
use crate::settings::Sms as SmsSettings;
use crate::templates::Rendered;

#[derive(Debug, Clone)]
pub struct ProfileGateway {
    profile: Profile,
    client: reqwest::Client,
    sender: Option<String>,
    /// `sms:<profile>`: what messages record as their gateway.
    name: Arc<str>,
}

impl ProfileGateway {
    pub fn from_settings(settings: &SmsSettings) -> anyhow::Result<Self> {
        let profile = load_profile(settings)?;
        let limits = profile.limits();
        crate::channels::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(limits.timeout_ms))
            .connect_timeout(Duration::from_millis(limits.timeout_ms.min(5_000)))
            .pool_max_idle_per_host(limits.concurrency)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            name: format!("sms:{}", profile.name()).into(),
            profile,
            client,
            sender: Some(settings.sender.clone()).filter(|s| !s.is_empty()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Sends a batch, at most the profile's `concurrency` requests at a time.
    pub async fn send(&self, batch: Vec<Outgoing>) -> Vec<SendResult> {
        let concurrency = self.profile.limits().concurrency.max(1);
        futures::stream::iter(batch)
            .map(|message| self.send_one(message))
            .buffered(concurrency)
            .collect()
            .await
    }

    async fn send_one(&self, message: Outgoing) -> SendResult {
        let (Destination::Phone(to), Rendered::Sms { text }) = (&message.to, &message.content)
        else {
            return SendResult::Permanent("only SMS goes through an SMS gateway".into());
        };
        let sms = SmsMessage {
            message_id: &message.message_id,
            to,
            text,
            sender: self.sender.as_deref(),
        };
        let request = match self.profile.build_send(&sms) {
            Ok(r) => r,
            Err(e) => return SendResult::Permanent(e.to_string()),
        };
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        };
        let mut builder = self.client.request(method, &request.url).body(request.body);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let outcome = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => self.profile.classify_send(&sms, status, &body),
                    Err(e) => SendOutcome::Transient(format!(
                        "reading the answer failed: {}",
                        without_url(e)
                    )),
                }
            }
            // Connection refused, timeout: the provider may or may not have the message;
            // a retry is the at-least-once side of that doubt.
            Err(e) => SendOutcome::Transient(format!("request failed: {}", without_url(e))),
        };
        match outcome {
            SendOutcome::Accepted {
                provider_message_id,
            } if provider_message_id.is_empty() => {
                tracing::warn!(
                    message_id = %message.message_id,
                    gateway = %self.name,
                    "accepted without a provider id: its delivery report cannot be matched"
                );
                SendResult::Accepted {
                    gateway_message_id: String::new(),
                    content_sha256: hex::encode(Sha256::digest(text.as_bytes())),
                }
            }
            SendOutcome::Accepted {
                provider_message_id,
            } => SendResult::Accepted {
                gateway_message_id: provider_message_id,
                content_sha256: hex::encode(Sha256::digest(text.as_bytes())),
            },
            SendOutcome::Transient(why) => SendResult::Transient(why),
            SendOutcome::Permanent(why) => SendResult::Permanent(why),
        }
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
    let path = settings
        .profiles_dir
        .join(format!("{}.toml", settings.profile));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading SMS profile {}", path.display()))?;
    let mut secrets: HashMap<String, String> = std::env::vars().collect();
    for (name, value) in &settings.secrets {
        secrets.insert(name.clone(), value.expose_secret().to_owned());
    }
    let options = LoadOptions {
        secrets,
        base_url: Some(settings.base_url.clone()).filter(|u| !u.is_empty()),
        callback_url: Some(settings.callback_url.clone()).filter(|u| !u.is_empty()),
    };
    Ok(Profile::load(&path.display().to_string(), &text, &options)?)
}
