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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub intent_id: String,
    pub first: i64,
    pub end: i64,
    /// The earliest legal deadline in the range (epoch ms): what the queue orders by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_at: Option<i64>,
    /// The job's place among its intent's jobs (0, 1, …): among equal deadlines, the
    /// n-th job of every intent goes before any intent's (n+1)-th.
    #[serde(default)]
    pub round: u32,
}

/// How often apalis runs a delivery job that fails. Sends are retried by dispatch itself,
/// so a job fails only when the database does (an outage, a saturated pool); and a job
/// given up would leave its range's queued messages with nothing to send them. At up to
/// 32 s a try (`worker::handle`) this outlasts any outage by weeks.
pub const JOB_ATTEMPTS: usize = 100_000;

impl DeliveryJob {
    /// The jobs covering `recipients` recipients in slices of `batch`, each knowing the
    /// earliest of `deadlines` (per recipient; shorter or `None` means no deadline) in it.
    pub fn cover(
        intent_id: &str,
        recipients: i64,
        batch: i64,
        deadlines: &[Option<i64>],
    ) -> Vec<DeliveryJob> {
        (0..recipients)
            .step_by(batch.max(1) as usize)
            .enumerate()
            .map(|(round, first)| {
                let end = (first + batch).min(recipients);
                let range = first as usize..(end as usize).min(deadlines.len());
                DeliveryJob {
                    intent_id: intent_id.to_owned(),
                    first,
                    end,
                    deadline_at: deadlines
                        .get(range)
                        .and_then(|d| d.iter().flatten().min().copied()),
                    round: u32::try_from(round).unwrap_or(u32::MAX),
                }
            })
            .collect()
    }

    /// apalis takes the highest priority first: earliest deadline first, then the lowest
    /// round, so one 100,000-recipient intent does not starve a one-recipient intent due
    /// in the same hour. Deadlines count in hours since 2025 (fits PostgreSQL's `integer`
    /// for a century); a job with no deadline goes last.
    pub fn priority(&self) -> usize {
        const EPOCH_2025_MS: i64 = 1_735_689_600_000;
        const HOURS: i64 = 1_000_000;
        const ROUNDS: i64 = 1024;
        let hours = self.deadline_at.map_or(HOURS - 1, |at| {
            ((at - EPOCH_2025_MS) / 3_600_000).clamp(0, HOURS - 2)
        });
        let key = hours * ROUNDS + i64::from(self.round).min(ROUNDS - 1);
        (HOURS * ROUNDS - key) as usize
    }

    /// The job as apalis stores it; `delay` postpones it (a retry's backoff).
    pub fn to_task(&self, delay: Option<Duration>) -> Task<Vec<u8>> {
        let bytes = serde_json::to_vec(self).expect("a DeliveryJob always serialises");
        let builder = TaskBuilder::new(bytes);
        let builder = builder.max_attempts(JOB_ATTEMPTS).priority(self.priority());
        // apalis-postgres compares run_at with the database's clock: so do we
        // (crate::clock), or a worker whose machine runs ahead would postpone its jobs.
        let now = crate::clock::system_now_ms();
        let run_at = match delay {
            // apalis keeps run_at in whole seconds; round up so the job is not early.
            Some(d) if !d.is_zero() => (now + d.as_millis() as i64 + 999).div_euclid(1000),
            // A second in the past: apalis-postgres only NOTIFYs workers of a job whose
            // run_at is not after the pushing transaction's start, and intake pushes its jobs
            // at the end of a transaction that may have run for seconds. Without this the
            // workers would find the jobs only at their next poll.
            _ => now.div_euclid(1000) - 1,
        };
        builder.run_at_timestamp(run_at.max(0) as u64).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_cover_every_recipient_once() {
        let mut deadlines = vec![Some(9_000); 1001];
        deadlines[700] = Some(5_000);
        deadlines[1000] = None;
        let jobs = DeliveryJob::cover("i", 1001, 500, &deadlines);
        let ranges: Vec<(i64, i64, Option<i64>, u32)> = jobs
            .iter()
            .map(|j| (j.first, j.end, j.deadline_at, j.round))
            .collect();
        assert_eq!(
            ranges,
            vec![
                (0, 500, Some(9_000), 0),
                (500, 1000, Some(5_000), 1),
                (1000, 1001, None, 2)
            ]
        );
        assert!(DeliveryJob::cover("i", 0, 500, &[]).is_empty());
    }

    #[test]
    fn earliest_deadline_first_then_round_robin_between_intents() {
        let hour = 3_600_000;
        let at = |deadline: Option<i64>, round| DeliveryJob {
            deadline_at: deadline.map(|h| 1_800_000_000_000 + h * hour),
            round,
            ..DeliveryJob::default()
        };
        // Tonight's appeal reply before next month's tariff notice, whatever its round.
        assert!(at(Some(5), 900).priority() > at(Some(24 * 30), 0).priority());
        // Same hour: the second job of a big intent waits for the first of a small one.
        assert!(at(Some(5), 0).priority() > at(Some(5), 1).priority());
        // No deadline goes last; the priority fits PostgreSQL's integer column.
        assert!(at(None, 0).priority() < at(Some(24 * 365 * 50), 1023).priority());
        assert!(at(Some(-1_000_000), 0).priority() <= i32::MAX as usize);
        assert!(at(None, 5000).priority() >= 1, "no wrap-around below zero");
    }
}
