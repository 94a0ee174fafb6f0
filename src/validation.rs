//! Field-level validation errors, collected rather than stopping at the first one.
//!
//! Upstream systems fix a rejected request in one round trip only if we tell them every
//! offending field at once, each by its JSON path (`recipients[3].contacts.phone`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One rejected field: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// Every field error found in one input.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(value)` when nothing was reported, else all the errors.
    pub fn finish<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// A field that deserialises even when its JSON type is wrong, keeping serde's complaint,
/// so one bad field does not hide the others.
#[derive(Debug, Clone)]
pub enum Loose<T> {
    Good(T),
    Bad(String),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(match T::deserialize(value) {
            Ok(t) => Loose::Good(t),
            Err(e) => Loose::Bad(e.to_string()),
        })
    }
}

/// Takes a mandatory loose field, reporting it as missing or mistyped under `path`.
pub fn required<T>(field: Option<Loose<T>>, path: &str, errors: &mut FieldErrors) -> Option<T> {
    match field {
        Some(Loose::Good(v)) => Some(v),
        Some(Loose::Bad(why)) => {
            errors.push(path, why);
            None
        }
        None => {
            errors.push(path, "is required");
            None
        }
    }
}

/// Takes an optional loose field; a present but mistyped value is still an error.
pub fn optional<T>(field: Option<Loose<T>>, path: &str, errors: &mut FieldErrors) -> Option<T> {
    match field {
        Some(Loose::Good(v)) => Some(v),
        Some(Loose::Bad(why)) => {
            errors.push(path, why);
            None
        }
        None => None,
    }
}

/// A non-blank text field of at most `max` characters, trimmed.
pub fn text(
    value: Option<String>,
    path: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<String> {
    let value = value?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(path, "must not be empty");
        None
    } else if trimmed.chars().count() > max {
        errors.push(path, format!("must be at most {max} characters"));
        None
    } else {
        Some(trimmed.to_owned())
    }
}
