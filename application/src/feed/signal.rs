//! The wake-up of the feed's tail: an append committed, on this node or
//! another.

use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::Notify;

/// Wakes the tail: an append committed, on this node or another.
#[derive(Debug, Default)]
pub struct FeedSignal {
    pub(super) notify: Notify,
    /// The highest position known committed (from notifications that carry it).
    pub(super) committed: AtomicI64,
}

impl FeedSignal {
    /// An append committed, up to `position` when known.
    pub fn committed(&self, position: Option<i64>) {
        if let Some(position) = position {
            self.committed.fetch_max(position, Ordering::SeqCst);
        }
        self.notify.notify_one();
    }
}
