//! The head of the SQLite log: one writer at a time, so the newest event.

use application::Error;
use application::ports::LogHead;

use super::{SqliteEventStore, database};

impl LogHead for SqliteEventStore {
    async fn head(&self) -> Result<i64, Error> {
        let head: Option<i64> = sqlx::query_scalar("select max(global_position) from events")
            .fetch_one(self.pool())
            .await
            .map_err(database)?;
        Ok(head.unwrap_or(0))
    }

    /// One writer keeps positions in commit order: the position is the order.
    async fn read_order_of(&self, position: i64) -> Result<(u64, i64), Error> {
        Ok((0, position))
    }
}
