//! The clock and entropy ports: where "now" and random bits come from, so
//! tests can fix both.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Random bits for retry jitter.
    fn entropy(&self) -> u64;
}

/// The system's wall clock and a randomly seeded entropy source.
#[derive(Debug, Default)]
pub struct SystemClock {
    seed: RandomState,
    counter: AtomicU64,
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn entropy(&self) -> u64 {
        self.seed
            .hash_one(self.counter.fetch_add(1, Ordering::Relaxed))
    }
}
