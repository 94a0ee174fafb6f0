//! Planning an intent before it is accepted: each recipient's legal deadline, the plan of
//! their messages, and the checks that only make sense with a calendar in hand.

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};

use super::{IntentKind, NewIntent};
use crate::deadlines::{AppealVariant, Rulebook, event_moment};
use crate::plans::{ScheduleError, Start};
use crate::validation::FieldErrors;

/// Most recipients listed for one kind of problem; a count says how many there were.
const LISTED: usize = 100;

impl NewIntent {
    /// Stamps deadlines and schedules, or reports why the intent cannot be accepted: a
    /// deadline already passed or out of reach of every legal channel (unless
    /// `accept_late`), no legal channel, no calendar for the dates, a visit out of hours.
    pub fn plan(&mut self, rulebook: &Rulebook, now: DateTime<Utc>) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.kind == IntentKind::MeterVisit {
            check_visit_hours(self, rulebook, &mut errors);
        }
        let (field, moment) =
            event_moment(self.kind, &self.event).expect("a validated event has its deadline field");
        // Only appeal replies say which term applies; every other kind has one rule.
        let appeal = self
            .event
            .get("appeal_kind")
            .and_then(|v| serde_json::from_value::<AppealVariant>(v.clone()).ok())
            .unwrap_or_default();
        let deadlines = rulebook.deadlines(
            self.kind,
            moment,
            appeal,
            self.recipients.iter().map(|r| {
                (
                    r.customer_type,
                    r.account_number.as_str(),
                    r.time_zone,
                    r.region.as_deref(),
                )
            }),
        );
        let mut late = 0usize;
        let mut facts = crate::ledger::DeadlineFacts::new(&moment);
        let mut stamped = Vec::with_capacity(deadlines.len());
        let mut schedules = Vec::with_capacity(deadlines.len());
        for (i, (deadline, recipient)) in deadlines.into_iter().zip(&self.recipients).enumerate() {
            let deadline = match deadline {
                Ok(d) => d,
                Err(why) => {
                    errors.push(
                        format!("event.{field}"),
                        format!("no deadline can be computed for recipients[{i}]: {why}"),
                    );
                    return Err(errors);
                }
            };
            stamped.push(Some(deadline.deadline_utc.timestamp_millis()));
            facts.note(i as i64, &deadline);
            let late_reason = if deadline.deadline_utc < now {
                Some(format!(
                    "the legal deadline {} ({}) has passed",
                    deadline.deadline.to_rfc3339(),
                    deadline.rule.description
                ))
            } else {
                None
            };
            let schedule = rulebook.plans.schedule(
                self.kind,
                recipient.customer_type,
                &recipient.channels,
                Some(deadline.deadline_utc),
                now,
                Some((
                    rulebook.calendar_for(recipient.region.as_deref()),
                    recipient.time_zone,
                )),
            );
            let (steps, late_reason) = match schedule {
                Ok(steps) if late_reason.is_none() => (steps, None),
                Err(ScheduleError::NoLegalChannel { legal }) => {
                    let legal: Vec<&str> = legal.iter().map(|c| c.as_str()).collect();
                    errors.push(
                        format!("recipients[{i}].channels"),
                        format!(
                            "none of these counts as the legal notice for {} to a {}; include one of: {}",
                            self.kind.as_str(),
                            recipient.customer_type.as_str(),
                            legal.join(", ")
                        ),
                    );
                    continue;
                }
                Err(ScheduleError::Unreachable { fastest, arrives }) => (
                    Vec::new(),
                    late_reason.or(Some(format!(
                        "even {} would arrive about {}, after the legal deadline {}",
                        fastest.as_str(),
                        arrives.to_rfc3339(),
                        deadline.deadline.to_rfc3339()
                    ))),
                ),
                Ok(_) => (Vec::new(), late_reason),
            };
            let mut steps = match late_reason {
                None => steps,
                Some(reason) if !self.accept_late => {
                    late += 1;
                    if late <= LISTED {
                        errors.push(
                            format!("recipients[{i}]"),
                            format!(
                                "{reason}; send \"accept_late\": true to record the notice as late"
                            ),
                        );
                    }
                    continue;
                }
                // Late by design: every channel goes at once, escalation has no time to wait.
                Some(_) => {
                    let mut steps = rulebook
                        .plans
                        .schedule(
                            self.kind,
                            recipient.customer_type,
                            &recipient.channels,
                            None,
                            now,
                            None,
                        )
                        .expect("it has a legal channel");
                    for step in &mut steps {
                        step.start = Start::Now;
                    }
                    steps
                }
            };
            rulebook.plans.mark_received_when_sent(
                self.kind,
                recipient.customer_type,
                &recipient.contract_contacts,
                &mut steps,
            );
            schedules.push(steps);
        }
        if late > LISTED {
            errors.push(
                "recipients",
                format!("{late} recipients in all are past or out of reach of their deadline"),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.deadlines = stamped;
        self.schedules = schedules;
        self.deadline_facts = facts.finish();
        Ok(())
    }
}

/// A controller may come only on a working day (in every recipient's region) within the
/// configured hours.
fn check_visit_hours(intent: &NewIntent, rulebook: &Rulebook, errors: &mut FieldErrors) {
    let event = &intent.event;
    let date = event["visit_date"]
        .as_str()
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
    let time = |name: &str| {
        event[name]
            .as_str()
            .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok())
    };
    let (Some(date), Some(from), Some(to)) = (date, time("interval_from"), time("interval_to"))
    else {
        return;
    };
    let regions: std::collections::BTreeSet<Option<&str>> = intent
        .recipients
        .iter()
        .map(|r| r.region.as_deref())
        .collect();
    for region in regions {
        let off = match rulebook.calendar_for(region).is_working_day(date) {
            Ok(true) => continue,
            Ok(false) => match region {
                None => {
                    format!("{date} is not a working day; meter visits are on working days only")
                }
                Some(r) => format!(
                    "{date} is not a working day in {r}, where some recipients are; meter visits are on working days only"
                ),
            },
            Err(e) => e.to_string(),
        };
        errors.push("event.visit_date", off);
        break;
    }
    let minutes = |t: NaiveTime| t.hour() * 60 + t.minute();
    let fmt = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    // Recipients whose contract sets hours the visit does not fit, listed by index.
    let mut outside_contract = Vec::new();
    let mut outside_default = false;
    for (i, recipient) in intent.recipients.iter().enumerate() {
        let (hours, by_contract) = rulebook
            .plans
            .meter_visit
            .for_account(&recipient.account_number);
        if minutes(from) >= hours.from && minutes(to) <= hours.to {
            continue;
        }
        if by_contract {
            outside_contract.push((i, hours));
        } else {
            outside_default = true;
        }
    }
    if outside_default {
        let hours = rulebook.plans.meter_visit.working_days;
        let whom = if rulebook.plans.meter_visit.has_contracts() {
            " for recipients whose contract sets no other hours"
        } else {
            ""
        };
        errors.push(
            "event.interval_from",
            format!(
                "the visit must fall within {}-{} local time{whom}",
                fmt(hours.from),
                fmt(hours.to)
            ),
        );
    }
    if outside_contract.len() > LISTED {
        errors.push(
            "recipients",
            format!(
                "{} recipients in all have contract hours the visit does not fit",
                outside_contract.len()
            ),
        );
    }
    for (i, hours) in outside_contract.into_iter().take(LISTED) {
        errors.push(
            format!("recipients[{i}]"),
            format!(
                "the visit {}-{} is outside the hours this account's contract sets, {}-{} local time",
                fmt(minutes(from)),
                fmt(minutes(to)),
                fmt(hours.from),
                fmt(hours.to)
            ),
        );
    }
}
