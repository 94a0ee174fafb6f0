//! Amounts of money in roubles, held as whole kopecks so sums never drift.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Money {
    kopecks: i64,
}

impl Money {
    /// Accepts `"1234.56"`, `"1234,56"`, `"1234"` or a JSON number with at most 2 decimals.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = match value {
            Value::String(s) => s.trim().replace(',', "."),
            Value::Number(n) => n.to_string(),
            _ => return Err("must be an amount in roubles, e.g. \"1234.56\"".into()),
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(frac)
            || frac.len() > 2
            || whole.len() > 13
        {
            return Err(format!(
                "'{text}' is not an amount in roubles with at most 2 decimals"
            ));
        }
        let whole: i64 = whole.parse().map_err(|_| "amount too large".to_string())?;
        let frac: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
        let kopecks = whole * 100 + frac;
        Ok(Self {
            kopecks: if negative { -kopecks } else { kopecks },
        })
    }

    pub fn kopecks(self) -> i64 {
        self.kopecks
    }
}

impl fmt::Display for Money {
    /// Canonical machine form, `1234.56`: what is stored and what templates receive.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.kopecks < 0 { "-" } else { "" };
        let abs = self.kopecks.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_parse_to_kopecks() {
        assert_eq!(Money::parse(&json!("1234.56")).unwrap().kopecks(), 123456);
        assert_eq!(
            Money::parse(&json!("1234,5")).unwrap().to_string(),
            "1234.50"
        );
        assert_eq!(Money::parse(&json!(99)).unwrap().to_string(), "99.00");
        assert_eq!(Money::parse(&json!(5.25)).unwrap().to_string(), "5.25");
        assert!(Money::parse(&json!("12.345")).is_err());
        assert!(Money::parse(&json!("abc")).is_err());
        assert!(Money::parse(&json!(true)).is_err());
    }
}
