//! The compliance report: verdict counts and rates by kind, customer type and channel, and
//! the on-time rate by ISO week of the deadline.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use crate::proofs::{Attempted, Verdict, judge};
use crate::storage::{Db, LegalFactRow};

/// Deadlines from the start of `from` to the end of `to` (both days inclusive), in `tz`.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: Tz,
}

impl Period {
    fn start_ms(day: NaiveDate, tz: Tz) -> i64 {
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
        tz.from_local_datetime(&midnight).earliest().map_or_else(
            || midnight.and_utc().timestamp_millis(),
            |t| t.timestamp_millis(),
        )
    }

    fn bounds_ms(&self) -> (i64, i64) {
        let after_to = self.to.succ_opt().unwrap_or(self.to);
        (
            Self::start_ms(self.from, self.tz),
            Self::start_ms(after_to, self.tz),
        )
    }
}

/// Verdict counts of one group of recipients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<Verdict, u64>);

impl Counts {
    fn add(&mut self, verdict: Verdict) {
        *self.0.entry(verdict).or_default() += 1;
    }

    pub fn get(&self, verdict: Verdict) -> u64 {
        self.0.get(&verdict).copied().unwrap_or(0)
    }

    pub fn recipients(&self) -> u64 {
        self.0.values().sum()
    }

    /// Recipients with a verdict (not still in progress): the base of every rate.
    pub fn decided(&self) -> u64 {
        self.recipients() - self.get(Verdict::InProgress)
    }

    pub fn rate(&self, verdict: Verdict) -> Option<f64> {
        let decided = self.decided();
        (decided > 0).then(|| self.get(verdict) as f64 / decided as f64)
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("recipients".into(), json!(self.recipients()));
        out.insert("decided".into(), json!(self.decided()));
        let mut rates = Map::new();
        for verdict in Verdict::ALL {
            out.insert(verdict.as_str().into(), json!(self.get(verdict)));
            if verdict != Verdict::InProgress {
                rates.insert(
                    verdict.as_str().into(),
                    json!(self.rate(verdict).map(round4)),
                );
            }
        }
        out.insert("rates".into(), Value::Object(rates));
        out
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// One legal-notice message of a recipient, as the report reads it.
#[derive(Debug, Clone)]
pub struct LegalMessage {
    pub channel: String,
    pub status: String,
    pub delivered_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub received_when_sent: bool,
}

impl LegalMessage {
    fn attempted(&self) -> Attempted<'_> {
        Attempted {
            status: &self.status,
            legal_step: Some(0),
            delivered_at: self.delivered_at,
            sent_at: self.sent_at,
            received_when_sent: self.received_when_sent,
        }
    }
}

/// The channel a verdict rests on: the one that reached the recipient first, else the last one
/// handed over, else the last one tried (`None` when the recipient had none).
fn deciding_channel(verdict: Verdict, messages: &[LegalMessage]) -> Option<&str> {
    let latest = |keep: fn(&LegalMessage) -> bool| {
        messages
            .iter()
            .filter(|m| keep(m))
            .max_by_key(|m| m.sent_at)
            .map(|m| m.channel.as_str())
    };
    match verdict {
        Verdict::DeliveredOnTime | Verdict::DeliveredLate => messages
            .iter()
            .filter_map(|m| Some((m.attempted().received()?, m.channel.as_str())))
            .min()
            .map(|(_, channel)| channel),
        Verdict::Unconfirmed => latest(|m| matches!(m.status.as_str(), "sent" | "unconfirmed")),
        Verdict::NotDelivered | Verdict::InProgress => latest(|_| true),
    }
}

/// Kind, customer type, and the channel the verdict rests on (`none` if nothing was tried).
type GroupKey = (String, String, String);

#[derive(Debug, Clone)]
pub struct ComplianceReport {
    pub period: Period,
    pub kind: Option<String>,
    pub as_of: DateTime<Utc>,
    pub total: Counts,
    pub groups: BTreeMap<GroupKey, Counts>,
    /// Monday of the ISO week (in the period's zone) → counts of deadlines that week.
    pub weeks: BTreeMap<NaiveDate, Counts>,
}

impl ComplianceReport {
    pub async fn build(
        db: &Db,
        period: Period,
        kind: Option<&str>,
        as_of: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let mut report = Self {
            period,
            kind: kind.map(str::to_owned),
            as_of,
            total: Counts::default(),
            groups: BTreeMap::new(),
            weeks: BTreeMap::new(),
        };
        let (from, to) = period.bounds_ms();
        let mut current: Option<(LegalFactRow, Vec<LegalMessage>)> = None;
        db.legal_facts(from, to, kind, |row| {
            let same = current.as_ref().is_some_and(|(r, _)| {
                r.intent_id == row.intent_id && r.recipient_idx == row.recipient_idx
            });
            if !same && let Some((done, messages)) = current.take() {
                report.add(&done, &messages);
            }
            let (_, messages) = current.get_or_insert_with(|| (row.clone(), Vec::new()));
            if let (Some(channel), Some(status)) = (row.channel, row.status) {
                messages.push(LegalMessage {
                    channel,
                    status,
                    delivered_at: row.delivered_at,
                    sent_at: row.sent_at,
                    received_when_sent: row.received_when_sent.unwrap_or(false),
                });
            }
        })
        .await?;
        if let Some((done, messages)) = current {
            report.add(&done, &messages);
        }
        Ok(report)
    }

    fn add(&mut self, recipient: &LegalFactRow, messages: &[LegalMessage]) {
        let attempted: Vec<Attempted> = messages.iter().map(LegalMessage::attempted).collect();
        let (verdict, _) = judge(Some(recipient.deadline_at), &attempted);
        let channel = deciding_channel(verdict, messages);
        self.total.add(verdict);
        let key = (
            recipient.kind.clone(),
            recipient.customer_type.clone(),
            channel.unwrap_or("none").to_owned(),
        );
        self.groups.entry(key).or_default().add(verdict);
        let day = self
            .period
            .tz
            .timestamp_millis_opt(recipient.deadline_at)
            .single();
        if let Some(day) = day.map(|t| t.date_naive()) {
            let monday = day - chrono::Days::new(u64::from(day.weekday().num_days_from_monday()));
            self.weeks.entry(monday).or_default().add(verdict);
        }
    }

    pub fn to_json(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|((kind, customer_type, channel), counts)| {
                let mut g = Map::new();
                g.insert("kind".into(), json!(kind));
                g.insert("customer_type".into(), json!(customer_type));
                g.insert("channel".into(), json!(channel));
                g.extend(counts.to_json());
                Value::Object(g)
            })
            .collect();
        let weeks: Vec<Value> = self
            .weeks
            .iter()
            .map(|(monday, counts)| {
                let iso = monday.iso_week();
                json!({
                    "week": format!("{}-W{:02}", iso.year(), iso.week()),
                    "starts": monday.to_string(),
                    "decided": counts.decided(),
                    "delivered_on_time": counts.get(Verdict::DeliveredOnTime),
                    "on_time_rate": counts.rate(Verdict::DeliveredOnTime).map(round4),
                })
            })
            .collect();
        json!({
            "from": self.period.from.to_string(),
            "to": self.period.to.to_string(),
            "time_zone": self.period.tz.name(),
            "kind": self.kind,
            "as_of": self.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "total": Value::Object(self.total.to_json()),
            "groups": groups,
            "weeks": weeks,
        })
    }

    /// One row per group and a closing `all` row; rates over decided recipients, empty
    /// when none is decided.
    pub fn to_csv(&self) -> anyhow::Result<Vec<u8>> {
        let mut out = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["kind", "customer_type", "channel", "recipients", "decided"];
        header.extend(Verdict::ALL.iter().map(|v| v.as_str()));
        header.push("on_time_rate");
        out.write_record(&header)?;
        let all = ("all".to_owned(), "all".to_owned(), "all".to_owned());
        let rows = self
            .groups
            .iter()
            .chain(std::iter::once((&all, &self.total)));
        for ((kind, customer_type, channel), counts) in rows {
            let mut record = vec![
                kind.clone(),
                customer_type.clone(),
                channel.clone(),
                counts.recipients().to_string(),
                counts.decided().to_string(),
            ];
            record.extend(Verdict::ALL.iter().map(|v| counts.get(*v).to_string()));
            let rate = counts.rate(Verdict::DeliveredOnTime);
            record.push(rate.map(|r| format!("{:.4}", r)).unwrap_or_default());
            out.write_record(&record)?;
        }
        Ok(out.into_inner()?)
    }
}
