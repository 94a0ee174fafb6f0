//! The email gateway: submission to an SMTP relay over our pool of lettre connections
//! ([`relay`]).
//!
//! The relay's final reply to DATA (`250 2.0.0 Ok: queued as …`) is kept as the gateway's
//! id for the message: it is what support quotes to the relay's operator. A 5xx is a
//! permanent failure; a 4xx or a broken connection is retried.

use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use sha2::{Digest, Sha256};

use super::{Outgoing, SendResult, email};
use crate::settings::{Dkim, DkimAlgorithm, Organization, Smtp as SmtpSettings};

mod relay;

use relay::{Refusal, Relay};

#[derive(Clone)]
pub struct SmtpGateway {
    relay: Arc<Relay>,
    pool_size: usize,
    dkim: Option<Arc<DkimConfig>>,
}

impl std::fmt::Debug for SmtpGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The relay holds the credentials.
        f.debug_struct("SmtpGateway")
            .field("pool_size", &self.pool_size)
            .field("dkim", &self.dkim.is_some())
            .finish_non_exhaustive()
    }
}

impl SmtpGateway {
    pub fn from_settings(settings: &SmtpSettings, org: &Organization) -> anyhow::Result<Self> {
        super::install_crypto_provider();
        Ok(Self {
            relay: Arc::new(Relay::new(settings)?),
            pool_size: settings.pool_size.max(1) as usize,
            dkim: dkim_config(&settings.dkim, org)?.map(Arc::new),
        })
    }

    /// Sends a batch over the pool, as many at once as it has connections.
    pub async fn send(&self, batch: Vec<Outgoing>, sender: &Organization) -> Vec<SendResult> {
        futures::stream::iter(batch)
            .map(|message| self.send_one(message, sender))
            .buffered(self.pool_size)
            .collect()
            .await
    }

    async fn send_one(&self, message: Outgoing, sender: &Organization) -> SendResult {
        let mut email = match email::build(&message, sender) {
            Ok(email) => email,
            Err(why) => return SendResult::Permanent(why),
        };
        if let Some(dkim) = &self.dkim {
            email.sign(dkim);
        }
        // The exact bytes handed over, for the proof.
        let content = email.formatted();
        let content_sha256 = hex::encode(Sha256::digest(&content));
        match self.relay.submit(email.envelope(), &content).await {
            Ok(reply) => {
                let reply = format!(
                    "{} {}",
                    reply.code(),
                    reply.message().collect::<Vec<_>>().join(" ")
                );
                SendResult::Accepted {
                    // The DATA we sent and the relay's reply to it.
                    exchange: super::Exchange::of(&content, Some(reply.as_bytes())),
                    gateway_message_id: reply,
                    content_sha256,
                    content,
                }
            }
            Err(Refusal::Permanent(why)) => SendResult::Permanent(why),
            Err(Refusal::Transient(why)) => SendResult::Transient(why),
        }
    }
}

/// The DKIM signer, read once at start-up so a bad key stops the service, not each send.
fn dkim_config(dkim: &Dkim, org: &Organization) -> anyhow::Result<Option<DkimConfig>> {
    if dkim.selector.is_empty() {
        return Ok(None);
    }
    let domain = if dkim.domain.is_empty() {
        org.email
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .context("smtp.dkim.domain is empty and organization.email has no domain")?
    } else {
        dkim.domain.clone()
    };
    let key = std::fs::read_to_string(&dkim.key_file)
        .with_context(|| format!("smtp.dkim.key_file {}", dkim.key_file.display()))?;
    let algorithm = match dkim.algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    // The key error names the format problem, never the key.
    let key = DkimSigningKey::new(key.trim(), algorithm).map_err(|e| {
        anyhow::anyhow!(
            "smtp.dkim.key_file {} is not a {:?} key: {e}",
            dkim.key_file.display(),
            dkim.algorithm
        )
    })?;
    // Sign what a reader relies on: who, to whom, what, when, and our Message-ID, by
    // which support finds the message.
    let headers = ["From", "To", "Subject", "Date", "Message-ID"]
        .into_iter()
        .map(lettre::message::header::HeaderName::new_from_ascii_str)
        .collect();
    Ok(Some(DkimConfig::new(
        dkim.selector.clone(),
        domain,
        key,
        headers,
        lettre::message::dkim::DkimCanonicalization {
            header: lettre::message::dkim::DkimCanonicalizationType::Relaxed,
            body: lettre::message::dkim::DkimCanonicalizationType::Relaxed,
        },
    )))
}
