//! Channel plans: which of a recipient's channels carry the legal notice, in what order
//! they escalate, how early each must start to beat the deadline, and when sending is
//! allowed at all. Pure domain: times in, decisions out (tests drive it with any clock).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::calendar::Calendar;
use crate::intents::IntentKind;
use crate::recipients::{Channel, CustomerType};

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

/// At most so many messages to one customer per local day, week and month.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyLimit {
    pub name: String,
    kinds: Option<Vec<IntentKind>>,
    customer_types: Option<Vec<CustomerType>>,
    pub channels: Vec<Channel>,
    pub per_day: u32,
    pub per_week: u32,
    pub per_month: u32,
    #[allow(dead_code)]
    source: String,
}

/// Messages already sent to one customer in the current local periods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentCounts {
    pub day: u32,
    pub week: u32,
    pub month: u32,
}

/// The starts of the recipient's current local day, week (Monday) and month, and of the
/// next ones: the periods frequency limits count over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub day: DateTime<Utc>,
    pub week: DateTime<Utc>,
    pub month: DateTime<Utc>,
    pub next_day: DateTime<Utc>,
    pub next_week: DateTime<Utc>,
    pub next_month: DateTime<Utc>,
}

impl Periods {
    pub fn around(now: DateTime<Utc>, tz: Tz) -> Option<Periods> {
        use chrono::Datelike;
        let today = now.with_timezone(&tz).date_naive();
        let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
        let first = today.with_day(1)?;
        let next_first = first.checked_add_months(chrono::Months::new(1))?;
        let start = |d: NaiveDate| local_minute(tz, d, 0);
        Some(Periods {
            day: start(today)?,
            week: start(monday)?,
            month: start(first)?,
            next_day: start(today + Days::new(1))?,
            next_week: start(monday + Days::new(7))?,
            next_month: start(next_first)?,
        })
    }
}

impl FrequencyLimit {
    /// When the next message may go, if `sent` already reaches a limit.
    pub fn wait(&self, sent: SentCounts, periods: &Periods) -> Option<DateTime<Utc>> {
        if sent.month >= self.per_month {
            Some(periods.next_month)
        } else if sent.week >= self.per_week {
            Some(periods.next_week)
        } else if sent.day >= self.per_day {
            Some(periods.next_day)
        } else {
            None
        }
    }
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

/// Hours on one type of day, local time; `to` may be `24:00`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    #[serde(deserialize_with = "time_of_day")]
    pub from: u32,
    #[serde(deserialize_with = "time_of_day")]
    pub to: u32,
}

/// A rule on when messages may be sent; all matching windows must be open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub name: String,
    #[serde(default)]
    kinds: Option<Vec<IntentKind>>,
    #[serde(default)]
    customer_types: Option<Vec<CustomerType>>,
    channels: Vec<Channel>,
    working_days: Option<Hours>,
    days_off: Option<Hours>,
    #[allow(dead_code)]
    source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitHours {
    pub working_days: Hours,
    #[allow(dead_code)]
    source: String,
    /// Contracts that set other hours ("unless the contract says otherwise").
    #[serde(default)]
    contracts: Vec<ContractVisitHours>,
    /// `contracts` by account number (intake asks once per recipient).
    #[serde(skip)]
    by_account: HashMap<String, Hours>,
}

/// One contract's own hours for a controller's visit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractVisitHours {
    account_number: String,
    working_days: Hours,
    #[allow(dead_code)]
    source: String,
}

impl VisitHours {
    /// The hours a visit to `account` must fall within, and whether its contract set them.
    pub fn for_account(&self, account: &str) -> (Hours, bool) {
        self.by_account
            .get(account)
            .map_or((self.working_days, false), |&h| (h, true))
    }

    /// Whether any contract sets its own hours.
    pub fn has_contracts(&self) -> bool {
        !self.by_account.is_empty()
    }
}

/// Minutes since midnight from `HH:MM` (`24:00` allowed as the end of the day).
fn time_of_day<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let t = NaiveTime::parse_from_str(&s, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("'{s}' is not HH:MM")))?;
    use chrono::Timelike;
    Ok(t.hour() * 60 + t.minute())
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
        let mut meter_visit = file.meter_visit;
        for c in &meter_visit.contracts {
            let account =
                crate::recipients::parse_account_number(&c.account_number).map_err(|why| {
                    anyhow::anyhow!(
                        "meter_visit.contracts: account_number '{}' {why}",
                        c.account_number
                    )
                })?;
            anyhow::ensure!(
                c.working_days.from < c.working_days.to,
                "meter_visit.contracts: account {account}'s hours must end after they start"
            );
            anyhow::ensure!(
                meter_visit
                    .by_account
                    .insert(account.clone(), c.working_days)
                    .is_none(),
                "meter_visit.contracts: account {account} is listed twice"
            );
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
            meter_visit,
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

    /// The frequency limit that applies to this kind, customer type and channel, if any.
    pub fn frequency_limit(
        &self,
        kind: IntentKind,
        customer_type: CustomerType,
        channel: Channel,
    ) -> Option<&FrequencyLimit> {
        self.frequency_limits.iter().find(|l| {
            l.channels.contains(&channel)
                && l.kinds.as_ref().is_none_or(|k| k.contains(&kind))
                && l.customer_types
                    .as_ref()
                    .is_none_or(|c| c.contains(&customer_type))
        })
    }

    /// The sending windows that apply to a kind, customer type and channel.
    fn windows_for(
        &self,
        kind: IntentKind,
        customer_type: CustomerType,
        channel: Channel,
    ) -> Vec<&Window> {
        self.windows
            .iter()
            .filter(|w| w.channels.contains(&channel))
            .filter(|w| w.kinds.as_ref().is_none_or(|k| k.contains(&kind)))
            .filter(|w| {
                w.customer_types
                    .as_ref()
                    .is_none_or(|c| c.contains(&customer_type))
            })
            .collect()
    }

    /// The open minutes `[from, to)` of `day` under `windows`, if any.
    fn open_minutes(
        windows: &[&Window],
        calendar: &Calendar,
        day: NaiveDate,
    ) -> Result<Option<(u32, u32)>, String> {
        let working = calendar.is_working_day(day).map_err(|e| e.to_string())?;
        let mut open = (0u32, 24 * 60u32);
        for w in windows {
            match if working { w.working_days } else { w.days_off } {
                Some(h) => open = (open.0.max(h.from), open.1.min(h.to)),
                None => return Ok(None),
            }
        }
        Ok((open.0 < open.1).then_some(open))
    }

    /// The latest moment at or before `t` when `channel` may send, keeping an hour of the
    /// window after it where the window allows (a step released then must still get out):
    /// `t` itself when the window is open then with an hour to spare. `None` when no
    /// window opens in the 62 days before `t`; an error when the calendar has no data.
    pub fn last_window_before(
        &self,
        calendar: &Calendar,
        kind: IntentKind,
        customer_type: CustomerType,
        channel: Channel,
        tz: Tz,
        t: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, String> {
        const SPARE: u32 = 60;
        let matching = self.windows_for(kind, customer_type, channel);
        if matching.is_empty() {
            return Ok(Some(t));
        }
        let local = t.with_timezone(&tz);
        use chrono::Timelike;
        let minute_t = local.hour() * 60 + local.minute();
        for offset in 0..62u64 {
            let day = local
                .date_naive()
                .checked_sub_days(Days::new(offset))
                .ok_or("date out of range")?;
            let Some((from, to)) = Self::open_minutes(&matching, calendar, day)? else {
                continue;
            };
            let end = if offset == 0 {
                to.min(minute_t + 1)
            } else {
                to
            };
            if end <= from {
                continue;
            }
            let latest = (end - 1).min(to.saturating_sub(SPARE)).max(from);
            if offset == 0 && latest == minute_t {
                return Ok(Some(t));
            }
            // A clock change may skip that local minute: the last one before it.
            return (0..=latest - from)
                .find_map(|back| local_minute(tz, day, latest - back))
                .map(Some)
                .ok_or_else(|| format!("no local time in the window on {day}"));
        }
        Ok(None)
    }

    /// `None` if `channel` may send now; otherwise when the next window opens (or an error
    /// if the calendar has no data for the days in question).
    pub fn window_wait(
        &self,
        calendar: &Calendar,
        kind: IntentKind,
        customer_type: CustomerType,
        channel: Channel,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, &str)>, String> {
        let matching = self.windows_for(kind, customer_type, channel);
        if matching.is_empty() {
            return Ok(None);
        }
        let local = now.with_timezone(&tz);
        let today = local.date_naive();
        use chrono::Timelike;
        let minute_now = local.hour() * 60 + local.minute();
        // Two months covers every holiday run in the calendar.
        for offset in 0..62u64 {
            let day = today
                .checked_add_days(Days::new(offset))
                .ok_or("date out of range")?;
            let Some(open) = Self::open_minutes(&matching, calendar, day)? else {
                continue;
            };
            let from = if offset == 0 {
                open.0.max(minute_now)
            } else {
                open.0
            };
            if from >= open.1 {
                continue;
            }
            if offset == 0 && from == minute_now {
                return Ok(None);
            }
            let at = local_minute(tz, day, from).ok_or("no such local time")?;
            let reason = matching
                .first()
                .map(|w| w.name.as_str())
                .unwrap_or_default();
            return Ok(Some((at, reason)));
        }
        Err("no sending window in the next 62 days".into())
    }
}

fn local_minute(tz: Tz, day: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)?;
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests;
