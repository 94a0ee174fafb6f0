//! A claim's lease, kept fresh while its job works: a slow gateway can take longer than one
//! lease, and a message whose lease runs out goes back to the queue.

use std::time::Duration;

use tracing::warn;

use crate::clock::Clock;
use crate::storage::Db;

/// Keeps a claim's lease fresh while its job works (a slow gateway can take longer than
/// one lease); stops when dropped.
pub(super) struct LeaseRenewal(tokio::task::JoinHandle<()>);

impl LeaseRenewal {
    pub(super) fn start(db: Db, clock: Clock, claim_id: String, lease: Duration) -> Self {
        Self(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let until = clock.now_ms() + lease.as_millis() as i64;
                if let Err(e) = db.renew_lease(&claim_id, until).await {
                    warn!(error = format!("{e:#}"), "lease renewal failed");
                }
            }
        }))
    }
}

impl Drop for LeaseRenewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}
