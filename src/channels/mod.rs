//! Channels hand rendered messages to gateways and report what the gateway said.
//!
//! Each channel (email, SMS, mail, fax) is served by a gateway chosen in `[channels]`.
//! Today the only gateway is the [`outbox`]: files on disk, so a fresh machine dispatches
//! with nothing else running. Real gateways plug in as further [`Gateway`] variants.

pub mod outbox;
pub mod sms;

use crate::recipients::{Channel, PostalAddress};
use crate::settings::{GatewayName, Settings};
use crate::templates::Rendered;

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
}

impl Gateway {
    pub fn name(&self) -> &'static str {
        match self {
            Gateway::Outbox(_) => "outbox",
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
        let pick = |name: GatewayName| match name {
            GatewayName::Outbox => Gateway::Outbox(outbox.clone()),
        };
        Ok(Self {
            email: pick(settings.channels.email),
            sms: pick(settings.channels.sms),
            mail: pick(settings.channels.mail),
            fax: pick(settings.channels.fax),
        })
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
