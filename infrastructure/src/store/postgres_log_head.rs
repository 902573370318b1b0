//! The head of the PostgreSQL log for a gap-safe reader.

use application::Error;
use application::ports::LogHead;
use sqlx::Row;

use super::{PgEventStore, unavailable};

/// How many of the newest events the head query looks at. A transaction
/// that holds events older than these when a node starts is assumed gone:
/// it would have held every log reader back for that long.
const WINDOW: i64 = 10_000;

impl LogHead for PgEventStore {
    /// Just below the oldest event a running transaction may still hold (an
    /// event whose transaction is not below the oldest one running is not
    /// readable yet), or the newest event when there is none.
    async fn head(&self) -> Result<i64, Error> {
        let row = sqlx::query(
            "with recent as (
                 select global_position, tx from events order by global_position desc limit $1
             )
             select coalesce(
                 (select min(global_position) - 1 from recent
                  where tx >= pg_snapshot_xmin(pg_current_snapshot())),
                 (select max(global_position) from recent),
                 0
             ) as head",
        )
        .bind(WINDOW)
        .fetch_one(self.pool())
        .await
        .map_err(unavailable)?;
        row.try_get("head").map_err(unavailable)
    }
}
