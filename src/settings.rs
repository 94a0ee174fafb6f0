//! Layered configuration: `config/default.toml` → an optional file → `VESTNIK_…` variables.
//!
//! Settings are plain values handed to whoever needs them (never a global), so tests can
//! give every app its own port, database and outbox.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The defaults shipped in the binary, so a fresh clone (or a bare binary) starts.
const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: Server,
    pub database: Database,
    pub dispatch: Dispatch,
    pub outbox: Outbox,
    pub templates: Templates,
    pub deadlines: Deadlines,
    pub organization: Organization,
    pub channels: ChannelGateways,
    pub smtp: Smtp,
    pub sms: Sms,
    pub mail: ProfileGatewaySettings,
    pub fax: ProfileGatewaySettings,
    pub letters: Letters,
    pub auth: Auth,
    pub callbacks: Callbacks,
    pub retention: Retention,
}

/// How long personal data is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// After an intent's last message settled, its personal data (names, contact points,
    /// stored message bodies and letters) is purged; the ledger keeps the hashes.
    #[serde(with = "humantime_serde")]
    pub personal_data_after: std::time::Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dispatch {
    pub batch_size: u32,
    pub concurrency: usize,
    pub lease_secs: u64,
    pub max_attempts: u32,
    /// Claims that may end with no outcome before a message fails unsent.
    pub max_lost_claims: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_secs: u64,
    pub poll_interval_ms: u64,
    pub heartbeat_secs: u64,
    pub unconfirmed_after_hours: u64,
    /// After a gateway reports "busy" or "no answer" (fax), the message goes again this
    /// much later.
    #[serde(with = "humantime_serde")]
    pub gateway_retry_after: std::time::Duration,
    /// Every gateway's circuit breaker.
    pub breaker: crate::channels::resilience::BreakerConfig,
    /// Hold each gateway's rate limit in total across all processes sharing the
    /// database (see `channels::resilience::shared`); off, each process keeps it alone.
    pub shared_rate_limits: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbox {
    pub dir: PathBuf,
    pub fsync: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    pub calendar_dir: PathBuf,
    pub calendar_overlays: Vec<String>,
    pub policies_file: PathBuf,
    pub plans_file: PathBuf,
}

/// The sender of every notice; rendered into templates as `org.*`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    pub address: String,
    pub phone: String,
    /// The `From` of every email: checked as an address when the settings load, not at
    /// the first send, where a typo would fail every email including legal notices.
    #[serde(deserialize_with = "email_address")]
    pub email: String,
    pub website: String,
}

fn email_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<lettre::Address>()
        .map_err(|e| serde::de::Error::custom(format!("{text:?} is not an email address: {e}")))?;
    Ok(text)
}

/// The gateway each channel is handed to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelGateways {
    pub email: GatewayName,
    pub sms: GatewayName,
    pub mail: GatewayName,
    pub fax: GatewayName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayName {
    Outbox,
    /// An HTTP provider described by a profile (`[sms]`, `[mail]`, `[fax]`).
    Profile,
    /// An SMTP relay (email: `[smtp]`).
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    None,
    Starttls,
    Implicit,
}

/// The SMTP relay, when `channels.email = "smtp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Extra PEM certificate to trust for the relay (a private CA); empty: the public roots.
    pub ca_file: PathBuf,
    pub username: String,
    pub password: secrecy::SecretString,
    pub pool_size: u32,
    pub timeout_secs: u64,
    pub hello_name: String,
    /// Messages per second to the relay; 0 for no limit.
    pub rate_per_sec: f64,
    pub dkim: Dkim,
}

/// Paper letters (mail and fax): who signs them, how they are numbered, where their PDFs
/// are kept, the page geometry and the print-house rules for precompiled PDFs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letters {
    pub signatory_position: String,
    pub signatory_name: String,
    /// Outgoing numbers are `<prefix><intent external id>/<recipient number>`.
    pub number_prefix: String,
    /// Every letter PDF sent or received, and return-receipt scans, by SHA-256: the
    /// stored copies proofs are built from.
    pub documents_dir: PathBuf,
    /// Attach the letter (the kind's `letter` template, typeset) to every email as a PDF.
    pub attach_to_email: bool,
    #[serde(default)]
    pub geometry: crate::letters::Geometry,
    #[serde(default)]
    pub check: crate::letters::check::validate::Rules,
}

/// An HTTP provider described by a profile, for mail or fax (`[mail]`, `[fax]`). Secrets
/// and the profiles directory are shared with `[sms]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileGatewaySettings {
    pub profile: String,
    pub base_url: String,
    pub callback_url: String,
    pub sender: String,
}

/// DKIM signing of outgoing email; off while `selector` is empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    pub selector: String,
    /// The signing domain (`d=`); empty uses `organization.email`'s domain.
    pub domain: String,
    pub algorithm: DkimAlgorithm,
    /// RSA: a PKCS#1 PEM file; Ed25519: a file holding the base64 32-byte seed.
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DkimAlgorithm {
    Rsa,
    Ed25519,
}

/// The SMS provider, when `channels.sms = "profile"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sms {
    pub profile: String,
    pub profiles_dir: PathBuf,
    pub base_url: String,
    pub callback_url: String,
    pub sender: String,
    pub secrets: std::collections::HashMap<String, secrecy::SecretString>,
    pub early_receipt_wait_ms: u64,
    /// Two or more providers sharing the traffic; empty uses `profile` alone.
    pub providers: Vec<SmsProvider>,
    /// A delivery report later than this counts against its provider's share.
    #[serde(with = "humantime_serde")]
    pub slow_report_after: std::time::Duration,
    /// Status requests for messages without a final report, for providers that poll.
    #[serde(with = "humantime_serde")]
    pub poll_every: std::time::Duration,
    /// Messages per request where the profile has `[send_batch]` (capped by its `max`).
    pub batch_size: usize,
}

/// One SMS provider of several (`[[sms.providers]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsProvider {
    pub profile: String,
    /// Share of the traffic while healthy.
    #[serde(default = "SmsProvider::default_weight")]
    pub weight: u32,
    /// Replaces the profile's base URL; empty keeps it.
    #[serde(default)]
    pub base_url: String,
    /// Our URL for this provider's delivery reports; empty uses `sms.callback_url`.
    #[serde(default)]
    pub callback_url: String,
}

impl SmsProvider {
    fn default_weight() -> u32 {
        1
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub admin_token_file: PathBuf,
}

/// Status callbacks to the URL an intent names (see `crate::callbacks`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Callbacks {
    /// The HMAC-SHA256 key callbacks are signed with, shared with the receivers. Empty:
    /// intents naming a callback URL are refused.
    pub secret: secrecy::SecretString,
    /// How long an event is retried (connection errors, 5xx, 429) before it is given up.
    #[serde(with = "humantime_serde")]
    pub retry_for: std::time::Duration,
    /// The first retry's delay, doubled per attempt (with jitter) up to `backoff_max`.
    #[serde(with = "humantime_serde")]
    pub backoff_base: std::time::Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: std::time::Duration,
    /// One POST's timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: std::time::Duration,
    /// How often the worker looks for events to post.
    #[serde(with = "humantime_serde")]
    pub poll_every: std::time::Duration,
    /// Events posted at once.
    pub concurrency: usize,
}

impl Settings {
    /// Loads the defaults, then `file` if given, then `VESTNIK_SECTION__KEY` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::layers(file)?
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }

    /// The layers [`Settings::load`] merges, not yet extracted: `vestnik config check`
    /// reads them as they are to report every fault at once.
    pub fn layers(file: Option<&Path>) -> anyhow::Result<Figment> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file(file));
        }
        // VESTNIK_CONFIG names the file; VESTNIK_SERVER and VESTNIK_TOKEN are the
        // importer's server and token, not settings (`server` would clash with [server]).
        Ok(figment.merge(
            Env::prefixed("VESTNIK_")
                .split("__")
                .ignore(&["config", "server", "token"]),
        ))
    }

    /// The defaults alone, ignoring the environment: the starting point for tests.
    pub fn defaults() -> Self {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .expect("config/default.toml is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_parse() {
        let s = Settings::defaults();
        assert_eq!(s.database.url, "sqlite://data/vestnik.db");
        assert_eq!(s.channels.sms, GatewayName::Outbox);
    }

    #[test]
    fn a_sender_email_that_is_not_an_address_is_refused_by_name() {
        let err = Figment::from(Toml::string(DEFAULTS))
            .merge(Toml::string(
                "[organization]\nemail = \"info at example.ru\"",
            ))
            .extract::<Settings>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("organization.email"), "{err}");
        assert!(err.contains("is not an email address"), "{err}");
    }
}
