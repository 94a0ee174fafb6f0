//! Postal tracking numbers: Russian Post's domestic ШПИ and the UPU S10 international format.
//!
//! - Domestic ШПИ (РПО): 14 digits — the accepting office's postcode (6), the month number
//!   (2), the item number (5) — and a check digit: the 13 digits weighted 3, 1, 3, 1, …
//!   from the left (odd positions ×3, even positions ×1), check = (10 − sum mod 10) mod 10.
//! - UPU S10: `XX123456789YY` — two service letters, an 8-digit serial, a check digit, the
//!   ISO country code. The serial is weighted 8, 6, 4, 2, 3, 5, 9, 7; check = 11 − (sum mod 11),
//!   where 10 becomes 0 and 11 becomes 5.
//!
//! Only the form and the check digit are verified, not that the number exists.

use std::fmt;

/// A tracking number that passed its check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackingNumber {
    /// 14-digit domestic ШПИ.
    Domestic(String),
    /// 13-character UPU S10 identifier.
    S10(String),
}

impl TrackingNumber {
    pub fn as_str(&self) -> &str {
        match self {
            TrackingNumber::Domestic(s) | TrackingNumber::S10(s) => s,
        }
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a text is not a tracking number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    #[error("`{0}` is neither a 14-digit ШПИ nor a UPU S10 number (XX123456789YY)")]
    Format(String),
    #[error("`{number}`: check digit {found}, expected {expected}")]
    CheckDigit {
        number: String,
        found: u8,
        expected: u8,
    },
}

/// Parses and verifies a tracking number (surrounding whitespace ignored).
pub fn parse_tracking_number(text: &str) -> Result<TrackingNumber, TrackingError> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.len() == 14 && b.iter().all(u8::is_ascii_digit) {
        let digits: Vec<u8> = b.iter().map(|c| c - b'0').collect();
        let expected = domestic_check_digit(&digits[..13]);
        return if digits[13] == expected {
            Ok(TrackingNumber::Domestic(s.to_owned()))
        } else {
            Err(TrackingError::CheckDigit {
                number: s.to_owned(),
                found: digits[13],
                expected,
            })
        };
    }
    let s10_shape = b.len() == 13
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..11].iter().all(u8::is_ascii_digit)
        && b[11..].iter().all(u8::is_ascii_uppercase);
    if s10_shape {
        let serial: Vec<u8> = b[2..10].iter().map(|c| c - b'0').collect();
        let expected = s10_check_digit(&serial);
        let found = b[10] - b'0';
        return if found == expected {
            Ok(TrackingNumber::S10(s.to_owned()))
        } else {
            Err(TrackingError::CheckDigit {
                number: s.to_owned(),
                found,
                expected,
            })
        };
    }
    Err(TrackingError::Format(s.chars().take(40).collect()))
}

/// The check digit of a domestic ШПИ's first 13 digits.
pub fn domestic_check_digit(first13: &[u8]) -> u8 {
    let sum: u32 = first13
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The check digit of an S10 8-digit serial.
pub fn s10_check_digit(serial: &[u8]) -> u8 {
    const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];
    let sum: u32 = serial
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real domestic numbers, taken from pochta.ru tracking links published in public code.
    const REAL_DOMESTIC: [&str; 2] = ["10204289519872", "80110885894666"];

    #[test]
    fn real_domestic_numbers_verify() {
        for n in REAL_DOMESTIC {
            assert_eq!(
                parse_tracking_number(n),
                Ok(TrackingNumber::Domestic(n.into())),
                "{n}"
            );
        }
        // Worked: 1·3+0+2·3+0+4·3+2+8·3+9+5·3+1+9·3+8+7·3 = 128 → (10 − 8) mod 10 = 2.
        assert_eq!(
            domestic_check_digit(&[1, 0, 2, 0, 4, 2, 8, 9, 5, 1, 9, 8, 7]),
            2
        );
    }

    #[test]
    fn real_s10_numbers_verify() {
        // EE004107342DE: a Deutsche Post EMS item in a published Russian Post tracking example;
        // RB123456785GB: the serial used to illustrate S10 (8·1+6·2+…+7·8 = 204, 11 − 6 = 5).
        for n in ["EE004107342DE", "RB123456785GB"] {
            assert_eq!(
                parse_tracking_number(n),
                Ok(TrackingNumber::S10(n.into())),
                "{n}"
            );
        }
        // 10 → 0 and 11 → 5.
        assert_eq!(s10_check_digit(&[0, 0, 0, 0, 0, 0, 0, 0]), 5);
        assert_eq!(s10_check_digit(&[0, 0, 0, 0, 0, 0, 0, 1]), 4);
        assert_eq!(s10_check_digit(&[0, 2, 0, 0, 0, 0, 0, 0]), 0);
    }

    #[test]
    fn wrong_check_digits_and_shapes_are_rejected() {
        assert_eq!(
            parse_tracking_number("10204289519873"),
            Err(TrackingError::CheckDigit {
                number: "10204289519873".into(),
                found: 3,
                expected: 2
            })
        );
        assert!(matches!(
            parse_tracking_number("RB123456786GB"),
            Err(TrackingError::CheckDigit { expected: 5, .. })
        ));
        for bad in [
            "",
            "1020428951987",
            "102042895198722",
            "1020428951987A",
            "rb123456785gb",
            "RB12345678GB",
            "R1123456785GB",
        ] {
            assert!(
                matches!(parse_tracking_number(bad), Err(TrackingError::Format(_))),
                "{bad}"
            );
        }
        assert_eq!(
            parse_tracking_number(" 80110885894666\n").unwrap().as_str(),
            "80110885894666"
        );
    }

    #[test]
    fn every_single_digit_error_is_caught() {
        for n in REAL_DOMESTIC {
            for pos in 0..14 {
                for d in b'0'..=b'9' {
                    let mut s = n.as_bytes().to_vec();
                    if s[pos] == d {
                        continue;
                    }
                    s[pos] = d;
                    let s = String::from_utf8(s).unwrap();
                    assert!(parse_tracking_number(&s).is_err(), "{s}");
                }
            }
        }
    }
}
