//! The values the profile engine takes and gives.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::profile::Kind;

/// A delivery status as Vestnik records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Delivered,
    Failed,
    Expired,
    Pending,
    /// Not delivered this time, worth sending again later (fax line busy, no answer). Not
    /// final: the dispatcher resends with backoff, a bounded number of times.
    Retry,
}

impl DeliveryStatus {
    /// Delivered, failed and expired are final: a later report never overwrites them.
    pub fn is_final(self) -> bool {
        !matches!(self, DeliveryStatus::Pending | DeliveryStatus::Retry)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retry => "retry",
        }
    }
}

/// The reason a letter returned unclaimed after the storage period carries: by Civil Code
/// art. 165.1 a notice the addressee did not collect counts as delivered.
pub const RETURNED_UNCLAIMED_REASON: &str =
    "returned unclaimed after the storage period (Civil Code art. 165.1)";

/// One SMS to send.
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

/// The letter as a PDF, for mail and fax.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// A PDF file (must start with `%PDF-`).
    pub pdf: &'a [u8],
    /// Its page count, as the caller rendered it (providers bill and fax by it).
    pub pages: u32,
}

/// A postal addressee.
#[derive(Debug, Clone, Copy)]
pub struct Postal<'a> {
    pub name: &'a str,
    /// Six digits (Russian postal index).
    pub postcode: &'a str,
    pub address: &'a str,
}

/// One letter to send through a hybrid-mail provider (printed, enveloped, posted).
#[derive(Debug, Clone, Copy)]
pub struct MailMessage<'a> {
    pub message_id: &'a str,
    pub recipient: Postal<'a>,
    pub document: Document<'a>,
    /// Overrides the profile's `sender`.
    pub sender: Option<&'a str>,
}

/// One fax to send.
#[derive(Debug, Clone, Copy)]
pub struct FaxMessage<'a> {
    pub message_id: &'a str,
    /// The fax number, E.164 with or without `+`; other characters are ignored.
    pub to: &'a str,
    pub document: Document<'a>,
    /// Overrides the profile's `sender`.
    pub sender: Option<&'a str>,
}

/// A message of any kind; a profile sends only its own kind.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    Sms(SmsMessage<'a>),
    Mail(MailMessage<'a>),
    Fax(FaxMessage<'a>),
}

impl<'a> Message<'a> {
    pub fn kind(&self) -> Kind {
        match self {
            Message::Sms(_) => Kind::Sms,
            Message::Mail(_) => Kind::Mail,
            Message::Fax(_) => Kind::Fax,
        }
    }

    pub fn message_id(&self) -> &'a str {
        match self {
            Message::Sms(m) => m.message_id,
            Message::Mail(m) => m.message_id,
            Message::Fax(m) => m.message_id,
        }
    }

    pub fn sender(&self) -> Option<&'a str> {
        match self {
            Message::Sms(m) => m.sender,
            Message::Mail(m) => m.sender,
            Message::Fax(m) => m.sender,
        }
    }

    pub fn document(&self) -> Option<Document<'a>> {
        match self {
            Message::Sms(_) => None,
            Message::Mail(m) => Some(m.document),
            Message::Fax(m) => Some(m.document),
        }
    }

    /// The exact bytes handed to the provider as content: the text, or the PDF.
    pub fn content_bytes(&self) -> &'a [u8] {
        match self {
            Message::Sms(m) => m.text.as_bytes(),
            Message::Mail(m) => m.document.pdf,
            Message::Fax(m) => m.document.pdf,
        }
    }
}

macro_rules! into_message {
    ($variant:ident, $ty:ident) => {
        impl<'a> From<$ty<'a>> for Message<'a> {
            fn from(m: $ty<'a>) -> Self {
                Message::$variant(m)
            }
        }
        impl<'a> From<&$ty<'a>> for Message<'a> {
            fn from(m: &$ty<'a>) -> Self {
                Message::$variant(*m)
            }
        }
    };
}
into_message!(Sms, SmsMessage);
into_message!(Mail, MailMessage);
into_message!(Fax, FaxMessage);

impl<'a> From<&Message<'a>> for Message<'a> {
    fn from(m: &Message<'a>) -> Self {
        *m
    }
}

/// What the provider said to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Accepted {
        provider_message_id: String,
        /// The postal tracking number (ШПИ or S10), verified, where the profile reads one.
        tracking_number: Option<String>,
    },
    Transient(String),
    Permanent(String),
}

/// One status request.
#[derive(Debug, Clone, Copy)]
pub struct PollQuery<'a> {
    pub provider_message_id: &'a str,
    /// The phone or fax number (SMSC needs the phone with the id); unused for mail.
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
    /// The provider's own status value (`103`, `delivery`), or the event's name where the
    /// profile reads one (`Прибыло в место вручения`; the code is then `details.status_code`).
    pub provider_status: String,
    /// When it happened, as the provider says (a postal event's date).
    pub provider_time: Option<DateTime<Utc>>,
    /// Why it failed or how it counts as delivered ([`RETURNED_UNCLAIMED_REASON`]).
    pub reason: Option<String>,
    /// Decoded evidence the provider attached (a scanned return receipt).
    #[serde(skip)]
    pub evidence: Option<Vec<u8>>,
    /// Further named values the profile reads (`pages`, `csid`, `result_code`, …).
    pub details: BTreeMap<String, String>,
    pub raw: String,
}

/// A profile file that cannot be used; names the profile and the key, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gateway profile {profile}: {key}: {message}")]
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
    #[error("not a postal address: {0}")]
    BadPostal(String),
    #[error("the document is not a PDF")]
    NotPdf,
    #[error("profile {profile} sends {profile_kind}, not {message_kind}")]
    WrongKind {
        profile: String,
        profile_kind: &'static str,
        message_kind: &'static str,
    },
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
    /// Our public receipts URL, `{{callback_url}}` for providers that take it per message
    /// (and what URL-signing providers such as Phaxio sign).
    pub callback_url: Option<String>,
}
