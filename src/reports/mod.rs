//! Reports for auditors: how many notices reached their recipients by the legal deadline.
//!
//! A recipient's verdict is the proof bundles' ([`crate::proofs::judge`]), decided by its
//! legal-notice messages only (supplementary ones, such as an SMS that cannot carry every
//! mandatory field, prove nothing).

pub mod compliance;

pub use compliance::{ComplianceReport, Period};
