//! Channels hand rendered messages to gateways and report what the gateway said.
//!
//! Each channel (email, SMS, mail, fax) is served by a gateway chosen in `[channels]`.
//! Today the only gateway is the [`outbox`]: files on disk, so a fresh machine dispatches
//! with nothing else running. Real gateways plug in as further [`Gateway`] variants.

pub mod email;
pub mod outbox;
pub mod profiles;
pub mod smtp;

use crate::recipients::{Channel, PostalAddress};
use crate::settings::{GatewayName, Settings};
use crate::templates::Rendered;

/// Installs the TLS crypto provider every HTTP client in the process needs: reqwest is
/// built without a default one (Cargo.toml says why). Safe to call any number of times.
pub fn install_crypto_provider() {
    // An Err only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Where one message goes.
#[derive(Debug, Clone)]
pub enum Destination {
    Email {
        address: String,
        name: String,
    },
    Phone(String),
    Fax(String),
    Postal {
        name: String,
        address: PostalAddress,
    },
}

/// One rendered message, addressed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub message_id: String,
    pub channel: Channel,
    pub to: Destination,
    pub content: Rendered,
}

/// What the gateway made of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum SendResult {
    /// Accepted; the gateway's id for it and the SHA-256 of the exact bytes handed over.
    Accepted {
        gateway_message_id: String,
        content_sha256: String,
    },
    /// Worth retrying later (timeouts, 5xx, full disk).
    Transient(String),
    /// Retrying cannot help (rejected address, oversized message).
    Permanent(String),
}

/// A gateway: something that accepts messages of one or more channels.
#[derive(Debug, Clone)]
pub enum Gateway {
    Outbox(outbox::Outbox),
    Sms(profiles::ProfileGateway),
    Smtp(smtp::SmtpGateway),
}

impl Gateway {
    pub fn name(&self) -> &str {
        match self {
            Gateway::Outbox(_) => "outbox",
            Gateway::Sms(sms) => sms.name(),
            Gateway::Smtp(_) => "smtp",
        }
    }

    /// Sends a batch; results come back in the batch's order.
    pub async fn send(
        &self,
        batch: Vec<Outgoing>,
        sender: &crate::settings::Organization,
    ) -> Vec<SendResult> {
        match self {
            Gateway::Outbox(outbox) => outbox.send(batch, sender).await,
            Gateway::Sms(sms) => sms.send(batch).await,
            Gateway::Smtp(smtp) => smtp.send(batch, sender).await,
        }
    }
}

/// The gateway for each channel, as configured.
#[derive(Debug, Clone)]
pub struct Gateways {
    email: Gateway,
    sms: Gateway,
    mail: Gateway,
    fax: Gateway,
}

impl Gateways {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let outbox = outbox::Outbox::new(settings.outbox.dir.clone(), settings.outbox.fsync)?;
        let unavailable = |channel: &str, name: GatewayName| {
            anyhow::anyhow!(
                "channels.{channel} = {name:?} is not available for that channel; use \"outbox\""
            )
        };
        let only_outbox = |channel: &str, name: GatewayName| match name {
            GatewayName::Outbox => Ok(Gateway::Outbox(outbox.clone())),
            other => Err(unavailable(channel, other)),
        };
        let email = match settings.channels.email {
            GatewayName::Outbox => Gateway::Outbox(outbox.clone()),
            GatewayName::Smtp => Gateway::Smtp(smtp::SmtpGateway::from_settings(&settings.smtp)?),
            other => return Err(unavailable("email", other)),
        };
        let sms = match settings.channels.sms {
            GatewayName::Outbox => Gateway::Outbox(outbox.clone()),
            GatewayName::Profile => {
                Gateway::Sms(profiles::ProfileGateway::from_settings(&settings.sms)?)
            }
            other => return Err(unavailable("sms", other)),
        };
        Ok(Self {
            email,
            sms,
            mail: only_outbox("mail", settings.channels.mail)?,
            fax: only_outbox("fax", settings.channels.fax)?,
        })
    }

    /// The SMS provider's gateway, if SMS goes to one (receipts are checked against it).
    pub fn sms_provider(&self) -> Option<&profiles::ProfileGateway> {
        match &self.sms {
            Gateway::Sms(sms) => Some(sms),
            _ => None,
        }
    }

    pub fn for_channel(&self, channel: Channel) -> &Gateway {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Mail => &self.mail,
            Channel::Fax => &self.fax,
        }
    }
}
