//! Sending windows: the local hours, on working days and days off, when a kind of notice
//! may go out over a channel, and where the next (or the last) open moment is.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::Plans;
use crate::calendar::Calendar;
use crate::intents::IntentKind;
use crate::recipients::{Channel, CustomerType};

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

/// Minutes since midnight from `HH:MM` (`24:00` allowed as the end of the day).
pub(super) fn time_of_day<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let t = NaiveTime::parse_from_str(&s, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("'{s}' is not HH:MM")))?;
    use chrono::Timelike;
    Ok(t.hour() * 60 + t.minute())
}

impl Plans {
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

pub(super) fn local_minute(tz: Tz, day: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)?;
    tz.from_local_datetime(&day.and_time(time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}
