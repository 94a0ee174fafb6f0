//! The delivery queue: apalis jobs that each cover a range of one intent's recipients.
//!
//! A job only says *where* work is; what is left to do lives in `messages` (apalis deletes
//! finished jobs, and a job may run twice). Jobs are pushed in the same transaction as the
//! rows they deliver, so an accepted intent always has its jobs, even after `kill -9`.

use std::time::Duration;

use apalis::prelude::{Task, TaskBuilder};
use serde::{Deserialize, Serialize};

/// The apalis queue every delivery job goes to.
pub const DELIVERY_QUEUE: &str = "vestnik.delivery";

/// Deliver every due message of recipients `first..end` of one intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub intent_id: String,
    pub first: i64,
    pub end: i64,
}

impl DeliveryJob {
    /// The jobs covering `recipients` recipients in slices of `batch`.
    pub fn cover(intent_id: &str, recipients: i64, batch: i64) -> Vec<DeliveryJob> {
        (0..recipients)
            .step_by(batch.max(1) as usize)
            .map(|first| DeliveryJob {
                intent_id: intent_id.to_owned(),
                first,
                end: (first + batch).min(recipients),
            })
            .collect()
    }

    /// The job as apalis stores it; `delay` postpones it (a retry's backoff).
    pub fn to_task(&self, delay: Option<Duration>) -> Task<Vec<u8>> {
        let bytes = serde_json::to_vec(self).expect("a DeliveryJob always serialises");
        let builder = TaskBuilder::new(bytes);
        // Jobs are idempotent and retried by us (see `dispatch`), so one apalis attempt
        // plus a few for infrastructure errors is enough.
        let builder = builder.max_attempts(5);
        match delay {
            // apalis keeps run_at in whole seconds; round up so the job is not early.
            Some(d) if !d.is_zero() => builder
                .run_after(Duration::from_secs(d.as_millis().div_ceil(1000) as u64))
                .build(),
            // A second in the past: apalis-postgres only NOTIFYs workers of a job whose
            // run_at is not after the pushing transaction's start, and intake pushes its jobs
            // at the end of a transaction that may have run for seconds. Without this the
            // workers would find the jobs only at their next poll.
            _ => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                builder.run_at_timestamp(now.saturating_sub(1)).build()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_cover_every_recipient_once() {
        let jobs = DeliveryJob::cover("i", 1001, 500);
        let ranges: Vec<(i64, i64)> = jobs.iter().map(|j| (j.first, j.end)).collect();
        assert_eq!(ranges, vec![(0, 500), (500, 1000), (1000, 1001)]);
        assert!(DeliveryJob::cover("i", 0, 500).is_empty());
    }
}
