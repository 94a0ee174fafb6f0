//! The proof ledger: every fact about a notice, appended once and hash-chained, so that
//! changing, removing, inserting or reordering any entry afterwards is detectable.
//!
//! This module is the domain only (no I/O): what a fact is ([`Fact`]), how an entry is
//! written down ([`canonical`], RFC 8785), how entries are linked ([`Chain`]), and how a
//! chain is checked ([`Walker`]). `storage::ledger` appends entries in the same
//! transaction as the facts they record. The format is specified in `docs/ledger.md`.

mod chain;
mod fact;
mod verify;

pub use chain::{Chain, Entry, GENESIS, Head, Sealed, Unsealed, canonical, sha256_hex};
pub use fact::{DeadlineFact, DeadlineFacts, Fact, ranges};
pub use verify::{Break, Row, Walker};

#[cfg(test)]
mod tests;
