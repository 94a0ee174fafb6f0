//! Retention: the personal data of intents whose messages settled longer than
//! `retention.personal_data_after` ago is purged — recipients' names and contact points,
//! the stored bodies of messages, raw gateway reports, letters and return-receipt scans.
//! The ledger keeps every hash and records the purge itself (`personal_data_purged`), so a
//! proof bundle still shows what was sent, when, and that the rest was purged.
//!
//! Run by every worker's sweep (at most hourly) and by `vestnik purge`.

use std::time::Duration;

use tracing::{info, warn};

use crate::documents::Documents;
use crate::storage::Db;

/// What a purge removes, as the ledger entry and bundles name it.
pub const PARTS: [&str; 5] = [
    "recipients.name",
    "recipients.contacts",
    "messages.content",
    "receipts.raw",
    "documents",
];

/// Intents purged per query.
const BATCH: i64 = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub intents: usize,
    pub documents: usize,
}

/// Purges every intent due at `now`.
pub async fn purge(
    db: &Db,
    documents: &Documents,
    after: Duration,
    now: i64,
) -> anyhow::Result<PurgeReport> {
    let settled_before = now - after.as_millis() as i64;
    let mut report = PurgeReport::default();
    loop {
        let due = db.purgeable_intents(settled_before, BATCH).await?;
        if due.is_empty() {
            break;
        }
        for intent_id in due {
            let Some(purged) = db.purge_personal_data(&intent_id, &PARTS, now).await? else {
                continue;
            };
            report.intents += 1;
            for sha256 in purged.documents {
                // Content-addressed: another intent may hold the very same document.
                if db.document_in_use(&sha256).await? {
                    continue;
                }
                match documents.remove(&sha256) {
                    Ok(true) => report.documents += 1,
                    Ok(false) => {}
                    Err(e) => warn!(
                        error = format!("{e:#}"),
                        "a purged document could not be removed"
                    ),
                }
            }
            info!(intent_id = %intent_id, messages = purged.messages, "personal data purged");
        }
    }
    Ok(report)
}
