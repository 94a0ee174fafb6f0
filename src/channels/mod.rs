//! Channels hand rendered messages to gateways and report what the gateway said.
//!
//! Each channel (email, SMS, mail, fax) is served by a gateway chosen in `[channels]`.
//! Today the only gateway is the [`outbox`]: files on disk, so a fresh machine dispatches
//! with nothing else running. Real gateways plug in as further [`Gateway`] variants.

pub mod email;
pub mod outbox;
pub mod profiles;
pub mod resilience;
pub mod routes;
pub mod smtp;

use std::time::Duration;

use resilience::{Limits, PoolConfig};
use routes::{ChannelRoute, Route};

use crate::recipients::{Channel, PostalAddress};
use crate::settings::{GatewayName, ProfileGatewaySettings, Settings};
use crate::storage::Db;
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
    Fax {
        number: String,
        name: String,
    },
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
    /// The letter's PDF, attached to an email when `letters.attach_to_email` is on.
    pub attachment: Option<std::sync::Arc<Vec<u8>>>,
}

/// What the gateway made of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum SendResult {
    /// Accepted; the gateway's id for it, the SHA-256 of the exact bytes handed over and
    /// those bytes (kept for the proof).
    Accepted {
        gateway_message_id: String,
        content_sha256: String,
        content: Vec<u8>,
        /// SHA-256 of the request and of the gateway's answer as they went over the wire
        /// (an HTTP body, an SMTP reply), for the ledger.
        exchange: Exchange,
    },
    /// Worth retrying later (timeouts, 5xx, full disk).
    Transient(String),
    /// Retrying cannot help (rejected address, oversized message).
    Permanent(String),
    /// Not handed over: every gateway of the channel is resting after failures. Not an
    /// attempt; try again after `retry_in`.
    Unavailable { retry_in: Duration, why: String },
}

/// Digests of one exchange with a gateway; `None` where there is no such thing (the
/// outbox gets a file and answers nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request_sha256: Option<String>,
    pub response_sha256: Option<String>,
}

impl Exchange {
    pub fn of(request: &[u8], response: Option<&[u8]>) -> Self {
        use sha2::{Digest, Sha256};
        Self {
            request_sha256: Some(hex::encode(Sha256::digest(request))),
            response_sha256: response.map(|r| hex::encode(Sha256::digest(r))),
        }
    }
}

/// `items` in groups of at most `size` (at least 1), each with its index in `items`, where
/// no two in a group share a key (`None` shares with nothing): a provider that answers a
/// batch by phone number cannot tell two messages to one number apart. Groups fill in
/// order, so a repeated key only moves to the next group with room.
pub(crate) fn in_distinct_groups<T, K: Eq + std::hash::Hash>(
    items: Vec<T>,
    size: usize,
    key: impl Fn(&T) -> Option<K>,
) -> Vec<Vec<(usize, T)>> {
    let size = size.max(1);
    let mut groups: Vec<Vec<(usize, T)>> = Vec::new();
    let mut keys: Vec<std::collections::HashSet<K>> = Vec::new();
    // Groups before this one are full: one message per request stays linear.
    let mut open = 0;
    for (i, item) in items.into_iter().enumerate() {
        let k = key(&item);
        let fits =
            |g: &usize| groups[*g].len() < size && k.as_ref().is_none_or(|k| !keys[*g].contains(k));
        let slot = (open..groups.len()).find(fits).unwrap_or_else(|| {
            groups.push(Vec::new());
            keys.push(Default::default());
            groups.len() - 1
        });
        keys[slot].extend(k);
        groups[slot].push((i, item));
        while groups.get(open).is_some_and(|g| g.len() == size) {
            open += 1;
        }
    }
    groups
}

/// A gateway: something that accepts messages of one or more channels.
#[derive(Debug, Clone)]
pub enum Gateway {
    Outbox(outbox::Outbox),
    /// An HTTP provider described by a profile (SMS, hybrid mail, fax).
    Profile(profiles::ProfileGateway),
    Smtp(smtp::SmtpGateway),
}

impl Gateway {
    pub fn name(&self) -> &str {
        match self {
            Gateway::Outbox(_) => "outbox",
            Gateway::Profile(sms) => sms.name(),
            Gateway::Smtp(_) => "smtp",
        }
    }

    /// Messages it takes per request: more than 1 only for a provider with a batch
    /// endpoint, when `sms.batch_size` allows.
    pub fn batch_size(&self) -> usize {
        match self {
            Gateway::Profile(p) => p.batch_size(),
            Gateway::Outbox(_) | Gateway::Smtp(_) => 1,
        }
    }

    /// What no two messages in one of its requests may share: the number, for a provider
    /// that answers a batch by number; `None` where anything may go together.
    pub fn batch_key(&self, message: &Outgoing) -> Option<String> {
        match self {
            Gateway::Profile(p) => p.batch_key(message),
            Gateway::Outbox(_) | Gateway::Smtp(_) => None,
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
            Gateway::Profile(sms) => sms.send(batch).await,
            Gateway::Smtp(smtp) => smtp.send(batch, sender).await,
        }
    }
}

/// The gateways of each channel, as configured.
#[derive(Debug, Clone)]
pub struct Gateways {
    email: ChannelRoute,
    sms: ChannelRoute,
    mail: ChannelRoute,
    fax: ChannelRoute,
}

impl Gateways {
    /// With `db`, each gateway's rate limit holds in total across the worker processes
    /// sharing that database (see [`resilience::shared`]).
    pub fn from_settings(settings: &Settings, db: Option<&Db>) -> anyhow::Result<Self> {
        let outbox = outbox::Outbox::new(settings.outbox.dir.clone(), settings.outbox.fsync)?;
        let breaker = settings.dispatch.breaker.clone();
        let unlimited = Limits {
            breaker: breaker.clone(),
            ..Limits::default()
        };
        let outbox_route = || {
            ChannelRoute::single(Route::new(
                Gateway::Outbox(outbox.clone()),
                &unlimited,
                None,
            )?)
        };
        let unavailable = |channel: &str, name: GatewayName| {
            anyhow::anyhow!(
                "channels.{channel} = {name:?} is not available for that channel; use \"outbox\""
            )
        };
        let letters =
            |channel: &str, name: GatewayName, profile: &ProfileGatewaySettings| match name {
                GatewayName::Outbox => outbox_route(),
                GatewayName::Profile => profile_route(settings, profile, db),
                other => Err(unavailable(channel, other)),
            };
        let email = match settings.channels.email {
            GatewayName::Outbox => outbox_route()?,
            GatewayName::Smtp => {
                let smtp = &settings.smtp;
                let gateway = smtp::SmtpGateway::from_settings(smtp, &settings.organization)?;
                let limits = Limits {
                    rate_per_sec: Some(smtp.rate_per_sec).filter(|r| *r > 0.0),
                    concurrency: Some(smtp.pool_size.max(1) as usize),
                    breaker: breaker.clone(),
                    ..Limits::default()
                };
                ChannelRoute::single(Route::new(Gateway::Smtp(gateway), &limits, db)?)?
            }
            other => return Err(unavailable("email", other)),
        };
        let sms = match settings.channels.sms {
            GatewayName::Outbox => outbox_route()?,
            GatewayName::Profile => sms_route(settings, db)?,
            other => return Err(unavailable("sms", other)),
        };
        Ok(Self {
            email,
            sms,
            mail: letters("mail", settings.channels.mail, &settings.mail)?,
            fax: letters("fax", settings.channels.fax, &settings.fax)?,
        })
    }

    /// The HTTP providers (SMS today), whose delivery reports come to `/v1/receipts`.
    pub fn providers(&self) -> Vec<profiles::ProfileGateway> {
        [&self.sms, &self.email, &self.mail, &self.fax]
            .into_iter()
            .flat_map(|route| route.gateways())
            .filter_map(|(_, gateway)| match gateway {
                Gateway::Profile(sms) => Some(sms.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn for_channel(&self, channel: Channel) -> &ChannelRoute {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Mail => &self.mail,
            Channel::Fax => &self.fax,
        }
    }
}

/// The mail or fax provider of `[mail]` / `[fax]` (secrets and directory from `[sms]`).
fn profile_route(
    settings: &Settings,
    chosen: &ProfileGatewaySettings,
    db: Option<&Db>,
) -> anyhow::Result<ChannelRoute> {
    let secrets = settings
        .sms
        .secrets
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                secrecy::ExposeSecret::expose_secret(v).to_owned(),
            )
        })
        .collect();
    let profile = profiles::load_profile_file(
        &settings.sms.profiles_dir,
        &chosen.profile,
        secrets,
        Some(chosen.base_url.clone()),
        Some(chosen.callback_url.clone()),
    )?;
    let limits = profile.limits();
    let gateway = profiles::ProfileGateway::new(
        profile,
        Some(chosen.sender.clone()).filter(|s| !s.is_empty()),
    )?;
    let limits = Limits {
        rate_per_sec: Some(limits.rate_per_sec).filter(|r| *r > 0.0),
        concurrency: Some(limits.concurrency.max(1)),
        breaker: settings.dispatch.breaker.clone(),
        ..Limits::default()
    };
    ChannelRoute::single(Route::new(Gateway::Profile(gateway), &limits, db)?)
}

/// One SMS provider from `[sms]`, or several from `[[sms.providers]]` sharing by weight.
fn sms_route(settings: &Settings, db: Option<&Db>) -> anyhow::Result<ChannelRoute> {
    let base = &settings.sms;
    let providers = if base.providers.is_empty() {
        vec![crate::settings::SmsProvider {
            profile: base.profile.clone(),
            weight: 1,
            base_url: base.base_url.clone(),
            callback_url: base.callback_url.clone(),
        }]
    } else {
        base.providers.clone()
    };
    let mut routes = Vec::with_capacity(providers.len());
    for provider in providers {
        let mut one = base.clone();
        one.profile = provider.profile;
        one.base_url = provider.base_url;
        if !provider.callback_url.is_empty() {
            one.callback_url = provider.callback_url;
        }
        let gateway = profiles::ProfileGateway::from_settings(&one)?;
        let profile = gateway.profile().limits();
        let limits = Limits {
            rate_per_sec: Some(profile.rate_per_sec).filter(|r| *r > 0.0),
            concurrency: Some(profile.concurrency.max(1)),
            breaker: settings.dispatch.breaker.clone(),
            ..Limits::default()
        };
        routes.push((
            Route::new(Gateway::Profile(gateway), &limits, db)?,
            provider.weight,
        ));
    }
    let config = PoolConfig {
        slow_threshold: base.slow_report_after,
        ..PoolConfig::default()
    };
    ChannelRoute::weighted(config, routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_groups_keep_repeated_keys_apart_and_remember_places() {
        let items = vec!["a", "b", "a", "c", "a", "d", "e"];
        let key = |s: &&str| (*s != "e").then_some(s.to_string());
        assert_eq!(
            in_distinct_groups(items, 3, key),
            vec![
                vec![(0, "a"), (1, "b"), (3, "c")],
                vec![(2, "a"), (5, "d"), (6, "e")],
                vec![(4, "a")],
            ]
        );
        // Without keys it is plain chunking.
        let plain = in_distinct_groups(vec![1, 2, 3, 4, 5], 2, |_| None::<u8>);
        assert_eq!(
            plain,
            vec![vec![(0, 1), (1, 2)], vec![(2, 3), (3, 4)], vec![(4, 5)]]
        );
    }
}
