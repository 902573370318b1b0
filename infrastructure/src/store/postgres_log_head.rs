//! The head of the PostgreSQL log for a gap-safe reader.

use application::Error;
use application::ports::LogHead;

use super::{PgEventStore, database};

/// The last readable event in read order, backwards through `events_commit_order`.
pub(super) const HEAD: &str = "select coalesce((
        select global_position from events
        where tx < pg_snapshot_xmin(pg_current_snapshot())
        order by tx desc, global_position desc limit 1
    ), 0)";

/// The transaction of the event at a position (or the last one before it).
pub(super) const READ_ORDER_OF: &str = "select tx::text::bigint from events
    where global_position <= $1 order by global_position desc limit 1";

impl LogHead for PgEventStore {
    /// The last event a gap-safe reader can read now, in the log's read
    /// order (by writing transaction, then position; see `read_all`), or 0
    /// when there is none: everything a reader starting after it will be
    /// given commits, or becomes readable, later.
    async fn head(&self) -> Result<i64, Error> {
        sqlx::query_scalar(HEAD)
            .fetch_one(self.pool())
            .await
            .map_err(database)
    }

    async fn read_order_of(&self, position: i64) -> Result<(u64, i64), Error> {
        let transaction: Option<i64> = sqlx::query_scalar(READ_ORDER_OF)
            .bind(position)
            .fetch_optional(self.pool())
            .await
            .map_err(database)?;
        Ok((transaction.unwrap_or(0) as u64, position))
    }
}
