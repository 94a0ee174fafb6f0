//! The deadline rules as a running service holds them: calendar and policies loaded from
//! `config/`, and the link from an intent's event to the moment its deadline counts from.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use serde_json::Value;

use super::{
    AppealVariant, Deadline, DeadlineError, DeadlineQuery, EventMoment, Policies, RuleKey,
    RuleVariant, compute_query,
};
use crate::calendar::Calendar;
use crate::intents::IntentKind;
use crate::plans::Plans;
use crate::recipients::CustomerType;

/// Every legal fact dispatch plans by: calendar, deadline policies, channel plans.
pub struct Rulebook {
    /// The federal calendar, with the overlays `deadlines.calendar_overlays` applies to all.
    pub calendar: Calendar,
    /// That calendar plus each region's own overlays, for recipients with a `region`.
    regional: BTreeMap<String, Calendar>,
    pub policies: Policies,
    pub plans: Plans,
}

impl Rulebook {
    pub fn load(settings: &crate::settings::Deadlines) -> anyhow::Result<Self> {
        let (calendar_dir, policies_file) = (
            settings.calendar_dir.as_path(),
            settings.policies_file.as_path(),
        );
        let mut calendar = Calendar::load_dir(calendar_dir)
            .with_context(|| format!("calendar in {}", calendar_dir.display()))?;
        for overlay in &settings.calendar_overlays {
            calendar = calendar
                .load_overlay(calendar_dir, overlay)
                .with_context(|| format!("calendar overlay {overlay}"))?;
        }
        let regional = calendar
            .load_regions(calendar_dir, &settings.calendar_overlays)
            .with_context(|| format!("regional calendars in {}", calendar_dir.display()))?;
        let text = std::fs::read_to_string(policies_file)
            .with_context(|| format!("reading {}", policies_file.display()))?;
        let policies = Policies::from_toml_str(&text)
            .with_context(|| format!("policies in {}", policies_file.display()))?;
        let plans = Plans::load(&settings.plans_file)?;
        Ok(Self {
            calendar,
            regional,
            policies,
            plans,
        })
    }

    /// The production calendar of a recipient in `region` (none: the federal one).
    pub fn calendar_for(&self, region: Option<&str>) -> &Calendar {
        region
            .and_then(|r| self.regional.get(r))
            .unwrap_or(&self.calendar)
    }

    /// The regions with days off of their own.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regional.keys().map(String::as_str)
    }

    pub fn deadline(&self, query: &DeadlineQuery<'_>) -> Result<Deadline, DeadlineError> {
        compute_query(self.calendar_for(query.region), &self.policies, query)
    }

    /// Deadlines for many recipients of one event: those without a contract override and
    /// in the same zone and region share one computation (100,000 recipients sit in a few
    /// zones). Each recipient is (customer type, account, zone, region).
    pub fn deadlines<'a>(
        &self,
        kind: IntentKind,
        event: EventMoment,
        appeal: AppealVariant,
        recipients: impl Iterator<Item = (CustomerType, &'a str, Tz, Option<&'a str>)>,
    ) -> Vec<Result<Deadline, String>> {
        let mut shared: HashMap<(CustomerType, Tz, Option<&str>), Result<Deadline, String>> =
            HashMap::new();
        // An override is looked up under the rule the appeal variant is counted by (an
        // answering-machine appeal's own rule); a variant the kind refuses fails below anyway.
        let variant = super::rule_variant(kind, appeal).map_or(RuleVariant::Standard, |(v, _)| v);
        recipients
            .map(|(customer_type, account, tz, region)| {
                let query = DeadlineQuery {
                    kind,
                    customer_type,
                    account_number: Some(account),
                    event,
                    tz,
                    region,
                    appeal,
                };
                let key = RuleKey {
                    kind,
                    customer_type,
                    variant,
                };
                let overridden = self
                    .policies
                    .rule_for(key, Some(account))
                    .is_some_and(|(_, origin)| origin == super::RuleOrigin::AccountOverride);
                if overridden {
                    self.deadline(&query).map_err(|e| e.to_string())
                } else {
                    shared
                        .entry((customer_type, tz, region))
                        .or_insert_with(|| self.deadline(&query).map_err(|e| e.to_string()))
                        .clone()
                }
            })
            .collect()
    }
}

/// The event field a kind's deadline counts from, and its value as an [`EventMoment`].
pub fn event_moment(kind: IntentKind, event: &Value) -> Option<(&'static str, EventMoment)> {
    let field = match kind {
        IntentKind::PlannedOutage => "starts_at",
        IntentKind::MeterVisit => "visit_date",
        IntentKind::DebtWarning => "restriction_date",
        IntentKind::TariffChange => "effective_from",
        IntentKind::AppealReply => "appeal_registered_at",
    };
    let text = event.get(field)?.as_str()?;
    let moment = match DateTime::parse_from_rfc3339(text) {
        Ok(instant) => EventMoment::Instant(instant),
        Err(_) => EventMoment::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?),
    };
    Some((field, moment))
}
