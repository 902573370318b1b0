//! The read models on PostgreSQL: the projection writer (rows and
//! checkpoint in one transaction, under a transaction-level advisory lock so
//! one node projects at a time), the queries of the API and the stored
//! definitions.

use sqlx::PgPool;

mod changes;
mod definitions;
mod insights;
mod queries;
mod schedules;
mod writer;

/// When the first event the projection has not written was recorded.
pub(super) const OLDEST_UNPROJECTED: &str = "select recorded_at from events
    where global_position > (select position from projection_checkpoints where name = $1)
    order by global_position limit 1";

#[derive(Clone, Debug)]
pub struct PgReadModels {
    pool: PgPool,
}

impl PgReadModels {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub(in crate::store) fn pool(&self) -> &PgPool {
        &self.pool
    }
}
