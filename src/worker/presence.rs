//! Whether a worker runs in this process, for `/ready`: `serve` runs the API and a worker
//! together, and an API whose worker has died accepts intents that nobody delivers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts the workers running in this process; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Presence(Arc<AtomicUsize>);

/// Held while a worker runs; dropping it (the worker returned or panicked) counts it out.
pub struct Running(Arc<AtomicUsize>);

impl Presence {
    pub fn enter(&self) -> Running {
        self.0.fetch_add(1, Ordering::SeqCst);
        Running(self.0.clone())
    }

    pub fn any(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
