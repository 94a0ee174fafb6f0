//! When a controller may come to read a meter: working days within the standard's hours,
//! or the hours an account's contract sets instead.

use std::collections::HashMap;

use serde::Deserialize;

use super::windows::Hours;

/// Visit hours, with each contract's own hours by account number (checked at load).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "VisitHoursData")]
pub struct VisitHours {
    pub working_days: Hours,
    by_account: HashMap<String, Hours>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitHoursData {
    working_days: Hours,
    #[allow(dead_code)]
    source: String,
    /// Contracts that set other hours ("unless the contract says otherwise").
    #[serde(default)]
    contracts: Vec<ContractVisitHours>,
}

/// One contract's own hours for a controller's visit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractVisitHours {
    account_number: String,
    working_days: Hours,
    #[allow(dead_code)]
    source: String,
}

impl TryFrom<VisitHoursData> for VisitHours {
    type Error = String;

    /// Accounts are read as intake reads them, so a contract's hours find its recipients.
    fn try_from(data: VisitHoursData) -> Result<Self, String> {
        let mut by_account = HashMap::new();
        for c in data.contracts {
            let account = crate::recipients::parse_account_number(&c.account_number)
                .map_err(|why| format!("contracts: account_number '{}' {why}", c.account_number))?;
            if c.working_days.from >= c.working_days.to {
                return Err(format!(
                    "contracts: account {account}'s hours must end after they start"
                ));
            }
            if by_account.insert(account.clone(), c.working_days).is_some() {
                return Err(format!("contracts: account {account} is listed twice"));
            }
        }
        Ok(Self {
            working_days: data.working_days,
            by_account,
        })
    }
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
