//! Channel plans: which of a recipient's channels carry the legal notice, in what order
//! they escalate, how early each must start to beat the deadline, and when sending is
//! allowed at all. Pure domain: times in, decisions out (tests drive it with any clock).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::calendar::Calendar;
use crate::intents::IntentKind;
use crate::recipients::{Channel, CustomerType};

mod limits;
mod visits;
mod windows;

pub use limits::{FrequencyLimit, Periods, SentCounts};
pub use visits::VisitHours;
pub use windows::{Hours, Window};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    latency: HashMap<Channel, HumanDuration>,
    confirm_within: HashMap<Channel, HumanDuration>,
    #[serde(with = "humantime_serde")]
    margin: Duration,
    plans: Vec<PlanData>,
    #[serde(default)]
    windows: Vec<Window>,
    #[serde(default)]
    frequency_limits: Vec<FrequencyLimit>,
    meter_visit: VisitHours,
    #[serde(default)]
    sms_max_parts: HashMap<IntentKind, usize>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
struct HumanDuration(#[serde(with = "humantime_serde")] Duration);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanData {
    kind: IntentKind,
    customer_types: Vec<CustomerType>,
    legal: Vec<Channel>,
    /// Legal channels whose notice, sent to a contact the contract names, counts as
    /// received when sent (Decree 442 for non-household customers).
    #[serde(default)]
    received_when_sent: Vec<Channel>,
    #[allow(dead_code)]
    source: String,
}

pub struct Plans {
    latency: HashMap<Channel, Duration>,
    confirm_within: HashMap<Channel, Duration>,
    margin: Duration,
    legal: HashMap<(IntentKind, CustomerType), Vec<Channel>>,
    received_when_sent: HashMap<(IntentKind, CustomerType), Vec<Channel>>,
    windows: Vec<Window>,
    frequency_limits: Vec<FrequencyLimit>,
    pub meter_visit: VisitHours,
    sms_max_parts: HashMap<IntentKind, usize>,
}

/// When one of a recipient's messages starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Now,
    /// Held back until escalation, or at the latest until this moment.
    Held {
        latest: DateTime<Utc>,
    },
}

/// One message's place in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub channel: Channel,
    /// Position in the legal escalation chain (0 = first); `None` for supplementary channels.
    pub legal_step: Option<u32>,
    pub confirm_within: Duration,
    pub start: Start,
    /// Deemed received once sent (the contract names the contact and the plan says so):
    /// no delivery report is awaited and the chain ends when it is sent.
    pub received_when_sent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// None of the recipient's channels counts as the legal notice for this kind.
    NoLegalChannel { legal: Vec<Channel> },
    /// Even the fastest legal channel cannot arrive before the deadline.
    Unreachable {
        fastest: Channel,
        arrives: DateTime<Utc>,
    },
}

impl Plans {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_toml_str(&text).with_context(|| format!("channel plans in {}", path.display()))
    }

    pub fn from_toml_str(text: &str) -> anyhow::Result<Self> {
        let file: PlansFile = toml::from_str(text)?;
        let mut legal = HashMap::new();
        let mut received_when_sent = HashMap::new();
        for plan in file.plans {
            if let Some(c) = plan
                .received_when_sent
                .iter()
                .find(|c| !plan.legal.contains(c))
            {
                anyhow::bail!(
                    "plan for {}: received_when_sent lists '{}', which is not one of its legal channels",
                    plan.kind.as_str(),
                    c.as_str()
                );
            }
            for ct in plan.customer_types {
                anyhow::ensure!(
                    legal.insert((plan.kind, ct), plan.legal.clone()).is_none(),
                    "two plans for {} / {}",
                    plan.kind.as_str(),
                    ct.as_str()
                );
                received_when_sent.insert((plan.kind, ct), plan.received_when_sent.clone());
            }
        }
        for kind in IntentKind::ALL {
            for ct in [CustomerType::Individual, CustomerType::LegalEntity] {
                anyhow::ensure!(
                    legal.contains_key(&(kind, ct)),
                    "no plan for {} / {}",
                    kind.as_str(),
                    ct.as_str()
                );
            }
        }
        for channel in Channel::ALL {
            anyhow::ensure!(
                file.latency.contains_key(&channel),
                "latency.{} is missing",
                channel.as_str()
            );
            anyhow::ensure!(
                file.confirm_within.contains_key(&channel),
                "confirm_within.{} is missing",
                channel.as_str()
            );
        }
        Ok(Self {
            latency: file.latency.into_iter().map(|(c, d)| (c, d.0)).collect(),
            confirm_within: file
                .confirm_within
                .into_iter()
                .map(|(c, d)| (c, d.0))
                .collect(),
            margin: file.margin,
            legal,
            received_when_sent,
            windows: file.windows,
            frequency_limits: file.frequency_limits,
            meter_visit: file.meter_visit,
            sms_max_parts: file.sms_max_parts,
        })
    }

    /// The channels that count as the legal notice of `kind` for `customer_type`.
    pub fn legal_channels(&self, kind: IntentKind, customer_type: CustomerType) -> &[Channel] {
        self.legal
            .get(&(kind, customer_type))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Marks the legal steps deemed received when sent: the plan names the channel and the
    /// recipient's contract names its contact point.
    pub fn mark_received_when_sent(
        &self,
        kind: IntentKind,
        customer_type: CustomerType,
        contract_contacts: &[Channel],
        steps: &mut [Step],
    ) {
        let Some(rule) = self.received_when_sent.get(&(kind, customer_type)) else {
            return;
        };
        for step in steps.iter_mut().filter(|s| s.legal_step.is_some()) {
            step.received_when_sent =
                rule.contains(&step.channel) && contract_contacts.contains(&step.channel);
        }
    }

    /// Most SMS parts a notice of `kind` may take, if limited.
    pub fn sms_max_parts(&self, kind: IntentKind) -> Option<usize> {
        self.sms_max_parts.get(&kind).copied()
    }

    pub fn latency(&self, channel: Channel) -> Duration {
        self.latency[&channel]
    }

    /// Plans one recipient's messages: supplementary channels and the first legal one now,
    /// later legal ones held until escalation or their latest start. With `windows` (the
    /// calendar and the recipient's zone) a legal channel is counted as leaving when its
    /// sending window next opens: a debt notice due on a Sunday cannot go out that weekend.
    pub fn schedule(
        &self,
        kind: IntentKind,
        customer_type: CustomerType,
        channels: &[Channel],
        deadline: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        windows: Option<(&Calendar, Tz)>,
    ) -> Result<Vec<Step>, ScheduleError> {
        let legal = &self.legal[&(kind, customer_type)];
        let mut steps = Vec::with_capacity(channels.len());
        let mut position = 0u32;
        for &channel in channels {
            let confirm_within = self.confirm_within[&channel];
            if !legal.contains(&channel) {
                steps.push(Step {
                    channel,
                    legal_step: None,
                    confirm_within,
                    start: Start::Now,
                    received_when_sent: false,
                });
                continue;
            }
            let start = match deadline {
                _ if position == 0 => Start::Now,
                Some(deadline) => {
                    let latest = self.latest_start(channel, deadline);
                    // Moved back into the channel's last sending window before it: a
                    // letter-less step released at night or on a holiday would wait for
                    // the next opening and arrive late.
                    let latest = windows
                        .and_then(|(calendar, tz)| {
                            self.last_window_before(
                                calendar,
                                kind,
                                customer_type,
                                channel,
                                tz,
                                latest,
                            )
                            .ok()
                            .flatten()
                        })
                        .unwrap_or(latest);
                    Start::Held {
                        latest: latest.max(now),
                    }
                }
                None => Start::Held {
                    latest: DateTime::<Utc>::MAX_UTC,
                },
            };
            steps.push(Step {
                channel,
                legal_step: Some(position),
                confirm_within,
                start,
                received_when_sent: false,
            });
            position += 1;
        }
        if position == 0 {
            return Err(ScheduleError::NoLegalChannel {
                legal: legal.clone(),
            });
        }
        if let Some(deadline) = deadline {
            // A window that cannot be worked out (the calendar ends) holds nothing back
            // here; dispatch holds the message and says why.
            let leaves = |channel: Channel| match windows {
                Some((calendar, tz)) => self
                    .window_wait(calendar, kind, customer_type, channel, tz, now)
                    .ok()
                    .flatten()
                    .map_or(now, |(opens, _)| opens),
                None => now,
            };
            let (fastest, arrives) = steps
                .iter()
                .filter(|s| s.legal_step.is_some())
                .map(|s| (s.channel, leaves(s.channel) + self.latency[&s.channel]))
                .min_by_key(|(_, arrives)| *arrives)
                .expect("at least one legal step");
            if arrives > deadline {
                return Err(ScheduleError::Unreachable { fastest, arrives });
            }
        }
        Ok(steps)
    }

    /// The last moment `channel` can start and still arrive, with the margin, by `deadline`.
    pub fn latest_start(&self, channel: Channel, deadline: DateTime<Utc>) -> DateTime<Utc> {
        deadline - (self.latency[&channel] + self.margin)
    }
}

#[cfg(test)]
mod tests;
