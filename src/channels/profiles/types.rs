//! The values the profile engine takes and gives.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A delivery status as Vestnik records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Delivered,
    Failed,
    Expired,
    Pending,
}

impl DeliveryStatus {
    /// Delivered, failed and expired are final: a later report never overwrites them.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryStatus::Pending)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Pending => "pending",
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, Copy)]
pub struct SmsMessage<'a> {
    /// Our message id (UUIDv7).
    pub message_id: &'a str,
    /// The phone, E.164 with or without `+`; other characters are ignored.
    pub to: &'a str,
    pub text: &'a str,
    /// Overrides the profile's `sender`.
    pub sender: Option<&'a str>,
}

/// What the provider said to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted { provider_message_id: String },
    Transient(String),
    Permanent(String),
}

/// One status request.
#[derive(Debug, Clone, Copy)]
pub struct PollQuery<'a> {
    pub provider_message_id: &'a str,
    /// Some providers (SMSC) need the phone with the id.
    pub to: &'a str,
}

/// What a status request said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    Status(Receipt),
    Transient(String),
    Permanent(String),
}

/// A delivery report, from a webhook or a poll; `raw` is kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    /// The provider's own status value (`103`, `delivery`).
    pub provider_status: String,
    pub provider_time: Option<DateTime<Utc>>,
    pub raw: String,
}

/// A profile file that cannot be used; names the profile and the key, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SMS profile {profile}: {key}: {message}")]
pub struct ProfileError {
    pub profile: String,
    pub key: String,
    pub message: String,
}

/// A message that cannot be turned into a request (retrying cannot help).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("not a phone number: {0}")]
    BadPhone(String),
    #[error("profile {0} has no [poll] section")]
    NoPoll(String),
    #[error("cannot render {key}: {message}")]
    Render { key: String, message: String },
}

/// What a deployment supplies when loading a profile.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Secrets for `${NAME}` placeholders (e.g. the process environment).
    pub secrets: HashMap<String, String>,
    /// Replaces the profile's `base_url` (tests point it at a loopback fake).
    pub base_url: Option<String>,
    /// Our public receipts URL, `{{callback_url}}` for providers that take it per message.
    pub callback_url: Option<String>,
}
