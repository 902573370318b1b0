//! Where a new reader of the global log may begin live.

use std::future::Future;

use crate::Error;

/// The head of the global log as a gap-safe reader sees it.
pub trait LogHead: Send + Sync {
    /// The last event readable now in the read order of
    /// [`EventStore::read_all`](super::EventStore::read_all) (0 when none):
    /// a reader that starts after it misses no transaction still running
    /// and replays nothing already committed and readable.
    fn head(&self) -> impl Future<Output = Result<i64, Error>> + Send;

    /// The read order (see [`RecordedEvent::read_order`](super::RecordedEvent::read_order)) of the event at
    /// `position`, or of the last one before it when none is there: where a
    /// reader that resumes after `position` stands.
    fn read_order_of(
        &self,
        position: i64,
    ) -> impl Future<Output = Result<(u64, i64), Error>> + Send;
}
