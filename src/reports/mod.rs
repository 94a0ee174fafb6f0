//! Reports for auditors: how many notices reached their recipients by the legal deadline.
//!
//! A recipient's [`verdict`] is decided by its legal-notice messages only (supplementary
//! ones, such as an SMS that cannot carry every mandatory field, prove nothing).

pub mod compliance;
pub mod verdict;

pub use compliance::{ComplianceReport, Period};
pub use verdict::{LegalMessage, Verdict};
