//! The read models on SQLite (embedded mode: one process, so one projector;
//! SQLite's write lock serialises the batch and its checkpoint). Times are
//! RFC 3339 UTC text with microseconds, JSON is text.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::SqlitePool;

use super::sqlite::Writer;

mod changes;
mod definitions;
mod insights;
mod queries;
mod schedules;
mod writer;

#[derive(Clone, Debug)]
pub struct SqliteReadModels {
    pool: SqlitePool,
    writer: Writer,
}

impl SqliteReadModels {
    /// On the event store's pool (the same file, migrated with it) and
    /// its writer turn (see `SqliteEventStore::read_models`).
    pub(crate) fn new(pool: SqlitePool, writer: Writer) -> Self {
        Self { pool, writer }
    }

    pub(in crate::store) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(in crate::store) fn writer(&self) -> &Writer {
        &self.writer
    }
}

pub(in crate::store) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
