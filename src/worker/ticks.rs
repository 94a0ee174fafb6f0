//! The worker's polling clock. apalis 1.0's `poll_with_interval` re-arms its timer without
//! polling it, and ignores the strategy's answer: when a fetch outlasts the interval (a
//! database busy with a big intake, a busy machine), the poll that sees the fetch come back
//! empty registers no wake-up, and an idle worker sleeps until its next heartbeat. Seen in
//! the bench's server log as 2.2–4.9 s without a fetch (README "Performance"). This clock
//! registers the next tick as soon as one fires.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::{PollSnapshot, PollStrategy};

pub struct Ticks {
    every: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Ticks {
    pub fn every(every: Duration) -> Self {
        Self {
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
        }
    }
}

impl PollStrategy for Ticks {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::now() + self.every);
        // Polled now, so the next tick wakes this task whatever the caller does next.
        let _ = self.sleep.as_mut().poll(cx);
        Poll::Ready(Some(()))
    }
}
