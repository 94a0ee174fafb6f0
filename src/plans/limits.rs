//! Contact limits: how often one customer may be contacted per local day, week and
//! month (230-FZ art. 7 for debt messages to individuals, by default).

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::Plans;
use super::windows::local_minute;
use crate::intents::IntentKind;
use crate::recipients::{Channel, CustomerType};

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

impl Plans {
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
}
