//! Deadline rules as configured in `config/policies.toml`.
//!
//! Every number is data with its legal source, because a supplier's contracts and lawyers
//! decide them; validation happens once at load so a missing rule fails at start-up rather
//! than when a notice is due.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};

use crate::intents::IntentKind;
use crate::recipients::CustomerType;

/// Largest `amount` accepted; far beyond any real rule, it keeps date arithmetic in range.
const MAX_AMOUNT: u32 = 3660;

/// Why `policies.toml` was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policies file is malformed: {0}")]
    Malformed(String),
    #[error("policy rule {key} is invalid: {message}")]
    Invalid { key: String, message: String },
    #[error("policy rule {key} is defined more than once")]
    Duplicate { key: String },
    #[error("no deadline rule for {key}: add it to config/policies.toml")]
    Missing { key: String },
}

/// Which way a rule counts from its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// "Not later than N units before the event": the notice must be delivered by then.
    Before,
    /// "Within N units of registration": the reply is due by then.
    Within,
}

/// What a rule counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    CalendarDays,
    WorkingDays,
    /// Calendar months; a day missing in a shorter month clamps to its last day.
    Months,
}

/// Which of a kind's rules applies; only `appeal_reply` has more than the standard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleVariant {
    #[default]
    Standard,
    /// An appeal left on the answering machine with a phone number to call back.
    AnsweringMachinePhone,
    /// An appeal left on the answering machine with a postal address.
    AnsweringMachineAddress,
}

impl RuleVariant {
    /// The snake_case name used in `policies.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::AnsweringMachinePhone => "answering_machine_phone",
            Self::AnsweringMachineAddress => "answering_machine_address",
        }
    }
}

/// How the "before" rules treat the two boundary days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BeforeConvention {
    /// Neither the delivery day nor the event day counts (Civil Code art. 191, read
    /// conservatively): N full units lie strictly between them.
    #[default]
    StrictlyBetween,
    /// The delivery day counts as the first unit; the event day still does not.
    DeliveryDayCounts,
}

/// Named counting settings, the `[counting]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counting {
    /// Local time of day at which a deadline day ends.
    pub deadline_time: NaiveTime,
    /// Convention for "before" rules.
    #[serde(default)]
    pub before_convention: BeforeConvention,
    /// Move a "within" deadline that falls on a day off to the next working day
    /// (Civil Code art. 193). Off by default: the company standard counts calendar days.
    pub within_shift_holiday: bool,
}

/// A one-time extension of a "within" rule (an interim reply buys more time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Units added once.
    pub amount: u32,
    /// Ceiling of the whole period, extension included.
    pub max_total: u32,
}

/// One deadline rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub direction: Direction,
    pub amount: u32,
    pub unit: Unit,
    pub extension: Option<Extension>,
    /// Standard section or law the rule comes from.
    pub source: String,
}

/// What a rule is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RuleKey {
    pub kind: IntentKind,
    pub customer_type: CustomerType,
    pub variant: RuleVariant,
}

impl fmt::Display for RuleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.customer_type.as_str())?;
        match self.variant {
            RuleVariant::Standard => Ok(()),
            v => write!(f, "/{}", v.as_str()),
        }
    }
}

/// Where the applied rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOrigin {
    Default,
    AccountOverride,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoliciesData {
    counting: Counting,
    rules: Vec<RuleData>,
    #[serde(default)]
    overrides: Vec<RuleData>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleData {
    /// Only in `[[overrides]]`.
    account_number: Option<String>,
    kind: IntentKind,
    customer_types: Vec<CustomerType>,
    #[serde(default)]
    variant: RuleVariant,
    direction: Direction,
    amount: u32,
    unit: Unit,
    extension: Option<Extension>,
    source: String,
}

/// All deadline rules plus the counting settings.
#[derive(Debug, Clone)]
pub struct Policies {
    pub counting: Counting,
    rules: HashMap<RuleKey, Rule>,
    overrides: HashMap<(String, RuleKey), Rule>,
}

const KINDS: [IntentKind; 5] = [
    IntentKind::PlannedOutage,
    IntentKind::MeterVisit,
    IntentKind::DebtWarning,
    IntentKind::TariffChange,
    IntentKind::AppealReply,
];
const CUSTOMER_TYPES: [CustomerType; 2] = [CustomerType::Individual, CustomerType::LegalEntity];

impl Policies {
    /// Parses and validates the text of `policies.toml`; every kind × customer type (and
    /// every appeal variant) must have a rule.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        let data: PoliciesData =
            toml::from_str(text).map_err(|e| PolicyError::Malformed(e.to_string()))?;
        let mut rules = HashMap::new();
        for item in data.rules {
            if let Some(account) = &item.account_number {
                return Err(PolicyError::Malformed(format!(
                    "account_number {account:?} belongs in [[overrides]], not [[rules]]"
                )));
            }
            for (key, rule) in item.into_rules()? {
                if rules.insert(key, rule).is_some() {
                    return Err(PolicyError::Duplicate {
                        key: key.to_string(),
                    });
                }
            }
        }
        let mut overrides = HashMap::new();
        for item in data.overrides {
            let Some(account) = item.account_number.clone().filter(|a| !a.trim().is_empty()) else {
                return Err(PolicyError::Malformed(
                    "every [[overrides]] entry needs an account_number".into(),
                ));
            };
            for (key, rule) in item.into_rules()? {
                if overrides.insert((account.clone(), key), rule).is_some() {
                    return Err(PolicyError::Duplicate {
                        key: format!("{key} for account {account}"),
                    });
                }
            }
        }
        let policies = Self {
            counting: data.counting,
            rules,
            overrides,
        };
        for kind in KINDS {
            for customer_type in CUSTOMER_TYPES {
                for &variant in variants_of(kind) {
                    let key = RuleKey {
                        kind,
                        customer_type,
                        variant,
                    };
                    if !policies.rules.contains_key(&key) {
                        return Err(PolicyError::Missing {
                            key: key.to_string(),
                        });
                    }
                }
            }
        }
        Ok(policies)
    }

    /// The rule for `key`: the account's contract override if there is one, else the default.
    pub fn rule_for(
        &self,
        key: RuleKey,
        account_number: Option<&str>,
    ) -> Option<(&Rule, RuleOrigin)> {
        account_number
            .and_then(|a| self.overrides.get(&(a.to_owned(), key)))
            .map(|r| (r, RuleOrigin::AccountOverride))
            .or_else(|| self.rules.get(&key).map(|r| (r, RuleOrigin::Default)))
    }
}

/// The variants a kind's rules must define.
fn variants_of(kind: IntentKind) -> &'static [RuleVariant] {
    match kind {
        IntentKind::AppealReply => &[
            RuleVariant::Standard,
            RuleVariant::AnsweringMachinePhone,
            RuleVariant::AnsweringMachineAddress,
        ],
        _ => &[RuleVariant::Standard],
    }
}

impl RuleData {
    fn into_rules(self) -> Result<Vec<(RuleKey, Rule)>, PolicyError> {
        let keys: Vec<RuleKey> = self
            .customer_types
            .iter()
            .map(|&customer_type| RuleKey {
                kind: self.kind,
                customer_type,
                variant: self.variant,
            })
            .collect();
        let label = keys
            .first()
            .map_or_else(|| self.kind.as_str().to_owned(), ToString::to_string);
        let invalid = |message: &str| PolicyError::Invalid {
            key: label.clone(),
            message: message.to_owned(),
        };
        if keys.is_empty() {
            return Err(invalid("customer_types is empty"));
        }
        if !variants_of(self.kind).contains(&self.variant) {
            return Err(invalid("this kind has no such variant"));
        }
        if self.amount > MAX_AMOUNT {
            return Err(invalid(&format!("amount exceeds {MAX_AMOUNT}")));
        }
        if self.source.trim().is_empty() {
            return Err(invalid("source must name the standard section or law"));
        }
        if let Some(ext) = self.extension {
            if self.direction != Direction::Within {
                return Err(invalid("only \"within\" rules can be extended"));
            }
            if ext.max_total < self.amount || ext.max_total > MAX_AMOUNT {
                return Err(invalid(
                    "extension.max_total must lie between amount and 3660",
                ));
            }
        }
        let rule = Rule {
            direction: self.direction,
            amount: self.amount,
            unit: self.unit,
            extension: self.extension,
            source: self.source,
        };
        Ok(keys.into_iter().map(|k| (k, rule.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../config/policies.toml");

    #[test]
    fn shipped_policies_load_with_the_documented_defaults() {
        let p = Policies::from_toml_str(SHIPPED).unwrap();
        assert_eq!(
            p.counting.deadline_time,
            NaiveTime::from_hms_opt(23, 59, 59).unwrap()
        );
        assert!(!p.counting.within_shift_holiday);
        let key = |kind, customer_type| RuleKey {
            kind,
            customer_type,
            variant: RuleVariant::Standard,
        };
        let (rule, _) = p
            .rule_for(
                key(IntentKind::PlannedOutage, CustomerType::Individual),
                None,
            )
            .unwrap();
        assert_eq!((rule.amount, rule.unit), (10, Unit::WorkingDays));
        let (rule, _) = p
            .rule_for(
                key(IntentKind::DebtWarning, CustomerType::LegalEntity),
                None,
            )
            .unwrap();
        assert_eq!((rule.amount, rule.unit), (10, Unit::WorkingDays));
        let (rule, _) = p
            .rule_for(
                key(IntentKind::AppealReply, CustomerType::LegalEntity),
                None,
            )
            .unwrap();
        assert_eq!(
            rule.extension,
            Some(Extension {
                amount: 15,
                max_total: 30
            })
        );
    }

    #[test]
    fn an_account_override_wins_only_for_its_account() {
        let text = format!(
            "{SHIPPED}\n[[overrides]]\naccount_number = \"77-001\"\nkind = \"meter_visit\"\n\
             customer_types = [\"legal_entity\"]\ndirection = \"before\"\namount = 5\n\
             unit = \"working_days\"\nsource = \"contract 12/2024 cl. 4.1\"\n"
        );
        let p = Policies::from_toml_str(&text).unwrap();
        let key = RuleKey {
            kind: IntentKind::MeterVisit,
            customer_type: CustomerType::LegalEntity,
            variant: RuleVariant::Standard,
        };
        let (rule, origin) = p.rule_for(key, Some("77-001")).unwrap();
        assert_eq!((rule.amount, origin), (5, RuleOrigin::AccountOverride));
        let (rule, origin) = p.rule_for(key, Some("77-002")).unwrap();
        assert_eq!((rule.amount, origin), (10, RuleOrigin::Default));
    }

    #[test]
    fn invalid_policies_are_rejected_with_a_reason() {
        let cases = [
            (SHIPPED.replace("amount = 20", "amount = 99999"), "exceeds"),
            (SHIPPED.replace("23:59:59", "25:00"), "malformed"),
            (
                SHIPPED.replace(
                    "\"answering_machine_phone\"",
                    "\"answering_machine_address\"",
                ),
                "more than once",
            ),
            (
                SHIPPED.replace("kind = \"tariff_change\"", "kind = \"meter_visit\""),
                "more than once",
            ),
            (
                SHIPPED.replace("max_total = 30", "max_total = 10"),
                "max_total",
            ),
            (
                SHIPPED.replace("within_shift_holiday", "within_shift"),
                "malformed",
            ),
        ];
        for (text, needle) in cases {
            let err = Policies::from_toml_str(&text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let without_tariffs = SHIPPED.replace(
            "kind = \"tariff_change\"",
            "kind = \"meter_visit\"\nvariant = \"answering_machine_phone\"",
        );
        assert!(
            Policies::from_toml_str(&without_tariffs)
                .unwrap_err()
                .to_string()
                .contains("no such variant")
        );
    }
}
