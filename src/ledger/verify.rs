//! Re-walking a chain: each stored entry must hash to its stored hash, be in canonical
//! form, carry its own position, link to the entry before it, and the last one must be the
//! recorded head. The first violation found is the answer.

use std::collections::BTreeMap;
use std::fmt;

use super::{Entry, Head, canonical, sha256_hex};

/// A stored entry as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub seq: i64,
    pub body: String,
    pub hash: String,
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The body no longer hashes to the stored hash: the entry was edited.
    Edited { seq: i64 },
    /// The body is not an entry in canonical form (edited, or written by something else).
    Malformed { seq: i64, why: String },
    /// The row at `seq` holds the entry written as `claims`: rows were moved or renumbered.
    Misplaced { seq: i64, claims: i64 },
    /// Entries `expected..found` are missing: deleted.
    Missing { expected: i64, found: i64 },
    /// Entry `seq` does not carry the hash of the entry before it: that one was replaced,
    /// re-hashed after an edit, inserted or reordered.
    Unlinked { seq: i64 },
    /// The chain ends at `last` but the recorded head is `head`: entries after `last`
    /// were removed, or the head was changed.
    Head { last: i64, head: i64 },
    /// The chain does not pass through a recorded checkpoint.
    Checkpoint { seq: i64 },
}

impl Break {
    /// The position of the first entry that fails.
    pub fn seq(&self) -> i64 {
        match self {
            Break::Edited { seq }
            | Break::Malformed { seq, .. }
            | Break::Misplaced { seq, .. }
            | Break::Unlinked { seq }
            | Break::Checkpoint { seq } => *seq,
            Break::Missing { expected, .. } => *expected,
            Break::Head { last, .. } => *last + 1,
        }
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Edited { seq } => write!(
                f,
                "entry {seq} was edited: its body no longer hashes to its stored hash"
            ),
            Break::Malformed { seq, why } => {
                write!(f, "entry {seq} is not a canonical ledger entry: {why}")
            }
            Break::Misplaced { seq, claims } => write!(
                f,
                "entry {seq} holds entry {claims}: rows were moved or renumbered"
            ),
            Break::Missing { expected, found } if found - expected == 1 => {
                write!(f, "entry {expected} is missing: deleted")
            }
            Break::Missing { expected, found } => {
                write!(f, "entries {expected}..{} are missing: deleted", found - 1)
            }
            Break::Unlinked { seq } => write!(
                f,
                "entry {seq} does not link to entry {}: that entry was replaced, re-hashed, inserted or moved",
                seq - 1
            ),
            Break::Head { last, head } => write!(
                f,
                "the chain ends at entry {last} but its head says {head}: entries were removed from the end, or the head was changed"
            ),
            Break::Checkpoint { seq } => write!(
                f,
                "the chain does not pass through the checkpoint at entry {seq}"
            ),
        }
    }
}

/// Walks rows in `seq` order, one at a time (a ledger may hold millions of entries).
#[derive(Debug)]
pub struct Walker {
    last: Head,
    /// Recorded checkpoints: the hash the entry at each `seq` had.
    checkpoints: BTreeMap<i64, String>,
}

impl Default for Walker {
    fn default() -> Self {
        Self::with_checkpoints(BTreeMap::new())
    }
}

impl Walker {
    pub fn with_checkpoints(checkpoints: BTreeMap<i64, String>) -> Self {
        Self {
            last: Head::genesis(),
            checkpoints,
        }
    }

    /// Checks the next row against everything before it.
    pub fn feed(&mut self, row: &Row) -> Result<(), Break> {
        let seq = row.seq;
        if seq != self.last.seq + 1 {
            return Err(if seq > self.last.seq + 1 {
                Break::Missing {
                    expected: self.last.seq + 1,
                    found: seq,
                }
            } else {
                Break::Misplaced { seq, claims: seq }
            });
        }
        if sha256_hex(row.body.as_bytes()) != row.hash {
            return Err(Break::Edited { seq });
        }
        let entry: Entry = serde_json::from_str(&row.body).map_err(|e| Break::Malformed {
            seq,
            why: e.to_string(),
        })?;
        if canonical(&entry) != row.body {
            return Err(Break::Malformed {
                seq,
                why: "not in canonical form".into(),
            });
        }
        if entry.seq != seq {
            return Err(Break::Misplaced {
                seq,
                claims: entry.seq,
            });
        }
        if entry.prev != self.last.hash {
            return Err(Break::Unlinked { seq });
        }
        if self.checkpoints.get(&seq).is_some_and(|h| *h != row.hash) {
            return Err(Break::Checkpoint { seq });
        }
        self.last = Head {
            seq,
            hash: row.hash.clone(),
        };
        Ok(())
    }

    /// The last entry walked.
    pub fn last(&self) -> &Head {
        &self.last
    }

    /// After the last row: the chain must end at the recorded head.
    pub fn finish(&self, head: &Head) -> Result<(), Break> {
        if let Some((&seq, _)) = self.checkpoints.range(self.last.seq + 1..).next() {
            return Err(Break::Checkpoint { seq });
        }
        if *head != self.last {
            return Err(Break::Head {
                last: self.last.seq,
                head: head.seq,
            });
        }
        Ok(())
    }
}
