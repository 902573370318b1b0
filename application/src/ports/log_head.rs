//! Where a new reader of the global log may begin live.

use std::future::Future;

use crate::Error;

/// The head of the global log as a gap-safe reader sees it.
pub trait LogHead: Send + Sync {
    /// A position at or below which every event that will ever exist is
    /// already committed, and as close to the newest event as that allows: a
    /// reader that starts after it misses no transaction still running.
    fn head(&self) -> impl Future<Output = Result<i64, Error>> + Send;
}
