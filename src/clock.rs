//! The time dispatch plans by. Production reads the system clock; tests set and advance a
//! fake one to see hours of deadline logic (windows, confirmation waits, latest starts) in
//! milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock; otherwise a settable instant (epoch ms).
    fake: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { fake: None }
    }

    /// A clock standing at `at` until moved.
    pub fn fake(at: DateTime<Utc>) -> Self {
        Self {
            fake: Some(Arc::new(AtomicI64::new(at.timestamp_millis()))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_else(Utc::now)
    }

    pub fn now_ms(&self) -> i64 {
        match &self.fake {
            Some(at) => at.load(Ordering::SeqCst),
            None => Utc::now().timestamp_millis(),
        }
    }

    /// Moves a fake clock to `at`; a no-op on the system clock.
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(fake) = &self.fake {
            fake.store(at.timestamp_millis(), Ordering::SeqCst);
        }
    }
}
