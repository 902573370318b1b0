//! The read models on PostgreSQL: the projection writer (rows and
//! checkpoint in one transaction, under a transaction-level advisory lock so
//! one node projects at a time), the queries of the API and the stored
//! definitions.

use sqlx::PgPool;

mod changes;
mod definitions;
mod insights;
mod queries;
mod writer;

#[derive(Clone, Debug)]
pub struct PgReadModels {
    pool: PgPool,
}

impl PgReadModels {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}
