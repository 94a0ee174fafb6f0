//! Contact points, parsed once at the edge: after this, code never re-checks a string.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pii;

/// A phone or fax number in E.164 (`+79161234567`). `Debug` and `Display` mask it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let digits = raw
            .strip_prefix('+')
            .ok_or("must be in E.164 format, e.g. +79161234567")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 15 {
            return Err("must be in E.164 format: '+' and up to 15 digits".into());
        }
        // Russian numbers are always +7 and ten digits. A full numbering-plan library was
        // tried and dropped: it rejects valid +7 8xx numbers (8-800 hotlines, St Petersburg
        // +7812), which suppliers use as contact phones.
        if let Some(national) = digits.strip_prefix('7')
            && national.len() != 10
        {
            return Err("a Russian number is +7 and ten digits".into());
        }
        if digits.starts_with('0') || digits.len() < 8 {
            return Err("is too short or has no country code".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", pii::mask_phone(&self.0))
    }
}

impl fmt::Display for PhoneNumber {
    /// Masked: a phone number is personal data and must not reach logs by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pii::mask_phone(&self.0))
    }
}

/// An email address as RFC 5321 accepts it (parsed by lettre, which sends it). `Debug` and
/// `Display` mask it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let address: lettre::Address = raw
            .parse()
            .map_err(|e| format!("is not an email address: {e}"))?;
        if !address.domain().contains('.') {
            return Err("is not an email address: the domain has no dot".into());
        }
        Ok(Self(address.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", pii::mask_email(&self.0))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pii::mask_email(&self.0))
    }
}

/// A Russian postal address: six-digit index and the address lines as one string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    pub postcode: String,
    pub address: String,
}

impl PostalAddress {
    pub fn parse(postcode: &str, address: &str) -> Result<Self, (&'static str, String)> {
        let postcode = postcode.trim();
        if postcode.len() != 6 || !postcode.bytes().all(|b| b.is_ascii_digit()) {
            return Err((
                "postcode",
                "must be six digits (Russian postal index)".into(),
            ));
        }
        let address = address.trim();
        if address.is_empty() {
            return Err(("address", "must not be empty".into()));
        }
        if address.chars().count() > 500 {
            return Err(("address", "must be at most 500 characters".into()));
        }
        Ok(Self {
            postcode: postcode.to_owned(),
            address: address.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_must_be_e164_and_exist() {
        assert!(PhoneNumber::parse("+79161234567").is_ok());
        assert!(PhoneNumber::parse("+74951234567").is_ok());
        assert!(PhoneNumber::parse("89161234567").is_err());
        assert!(
            PhoneNumber::parse("+7916123456").is_err(),
            "too short for Russia"
        );
        assert!(
            PhoneNumber::parse("+78001000000").is_ok(),
            "8-800 hotlines are valid"
        );
        assert!(PhoneNumber::parse("+78121234567").is_ok(), "St Petersburg");
        assert!(PhoneNumber::parse("+7916abc4567").is_err());
        assert!(PhoneNumber::parse("+").is_err());
    }

    #[test]
    fn emails_are_checked_and_kept() {
        assert_eq!(
            EmailAddress::parse(" ivan@mail.ru ").unwrap().as_str(),
            "ivan@mail.ru"
        );
        assert!(EmailAddress::parse("ivan@").is_err());
        assert!(EmailAddress::parse("ivan mail.ru").is_err());
        assert!(EmailAddress::parse("ivan@localhost").is_err());
    }

    #[test]
    fn contact_points_display_masked() {
        let p = PhoneNumber::parse("+79161234567").unwrap();
        assert_eq!(p.to_string(), "+7******4567");
        assert_eq!(format!("{p:?}"), "PhoneNumber(+7******4567)");
        let e = EmailAddress::parse("ivan@mail.ru").unwrap();
        assert_eq!(format!("{e:?}"), "EmailAddress(i***@m***.ru)");
    }

    #[test]
    fn postcodes_are_six_digits() {
        assert!(PostalAddress::parse("101000", "г. Москва").is_ok());
        assert_eq!(
            PostalAddress::parse("1010", "г. Москва").unwrap_err().0,
            "postcode"
        );
        assert_eq!(
            PostalAddress::parse("101000", " ").unwrap_err().0,
            "address"
        );
    }
}
