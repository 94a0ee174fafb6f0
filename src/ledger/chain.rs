//! Entries, their canonical form and the hash chain.
//!
//! An entry's canonical form is the RFC 8785 (JCS) serialisation of the whole entry —
//! `seq`, `at`, `intent_id`, `message_id`, `kind`, `data` and `prev`, the hash of the entry
//! before it — and its hash is the hex SHA-256 of those bytes. Each entry carries the hash
//! of the one before it, so an entry cannot change without breaking the link that follows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Fact;

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One ledger entry, as hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When the fact was recorded (epoch ms, our clock).
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `kind` and `data`.
    #[serde(flatten)]
    pub fact: Fact,
    /// The hash of entry `seq - 1` ([`GENESIS`] for the first).
    pub prev: String,
}

/// An entry with its canonical bytes and their hash, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Sealed {
    pub entry: Entry,
    /// The canonical JSON: what is hashed and stored.
    pub body: String,
    pub hash: String,
}

/// The RFC 8785 form of a value: sorted keys, no insignificant whitespace, UTF-8. Our
/// entries hold no floating-point numbers, so it is also exactly what `jq -cS` prints.
pub fn canonical<T: Serialize>(value: &T) -> String {
    serde_json_canonicalizer::to_string(value).expect("ledger values serialise")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An entry not yet in the chain, with the canonical form of everything but `prev` and
/// `seq` (which the chain's head decides) already made. Making it is most of the cost of
/// an append, and it needs no lock: callers build these before their transaction.
#[derive(Debug, Clone)]
pub struct Unsealed {
    at: i64,
    intent_id: Option<String>,
    message_id: Option<String>,
    fact: Fact,
    /// The canonical JSON of the fields above, without its closing brace.
    body: String,
}

impl Unsealed {
    pub fn new(at: i64, intent_id: Option<String>, message_id: Option<String>, fact: Fact) -> Self {
        #[derive(Serialize)]
        struct Begun<'a> {
            at: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            intent_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            message_id: Option<&'a str>,
            #[serde(flatten)]
            fact: &'a Fact,
        }
        let mut body = canonical(&Begun {
            at,
            intent_id: intent_id.as_deref(),
            message_id: message_id.as_deref(),
            fact: &fact,
        });
        body.pop(); // the closing brace; `seal` writes it after `prev` and `seq`
        Self {
            at,
            intent_id,
            message_id,
            fact,
            body,
        }
    }

    pub fn about_message(at: i64, intent_id: &str, message_id: &str, fact: Fact) -> Self {
        Self::new(
            at,
            Some(intent_id.to_owned()),
            Some(message_id.to_owned()),
            fact,
        )
    }

    pub fn fact(&self) -> &Fact {
        &self.fact
    }
}

/// The last entry of a chain (`seq` 0 and [`GENESIS`] for an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl Head {
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// Appends entries after a head: numbers them, links each to the one before, seals them.
#[derive(Debug)]
pub struct Chain {
    head: Head,
}

impl Chain {
    pub fn after(head: Head) -> Self {
        Self { head }
    }

    /// Seals the next entry and moves the head to it.
    pub fn append(
        &mut self,
        at: i64,
        intent_id: Option<String>,
        message_id: Option<String>,
        fact: Fact,
    ) -> Sealed {
        self.seal(Unsealed::new(at, intent_id, message_id, fact))
    }

    /// Seals an entry whose canonical form was begun earlier: only `prev` and `seq` are
    /// added here, so the work done while the head is locked is a concatenation and a hash.
    pub fn seal(&mut self, unsealed: Unsealed) -> Sealed {
        let Unsealed {
            at,
            intent_id,
            message_id,
            fact,
            mut body,
        } = unsealed;
        let seq = self.head.seq + 1;
        let prev = std::mem::take(&mut self.head.hash);
        // `prev` and `seq` sort after every other key: appending them to the canonical form
        // of the rest is the canonical form of the whole (checked in debug builds).
        body.push_str(",\"prev\":\"");
        body.push_str(&prev);
        body.push_str("\",\"seq\":");
        body.push_str(&seq.to_string());
        body.push('}');
        let entry = Entry {
            seq,
            at,
            intent_id,
            message_id,
            fact,
            prev,
        };
        debug_assert_eq!(body, canonical(&entry), "the spliced canonical form");
        let hash = sha256_hex(body.as_bytes());
        self.head = Head {
            seq,
            hash: hash.clone(),
        };
        Sealed { entry, body, hash }
    }

    pub fn head(&self) -> &Head {
        &self.head
    }
}
