//! Event stores: PostgreSQL for production, SQLite for the embedded mode.
//! Both pass the same conformance suite (`infrastructure/tests/event_store.rs`).

mod postgres;
mod postgres_api_keys;
mod postgres_listener;
mod postgres_log_head;
mod postgres_probe;
mod postgres_queues;
mod postgres_read_models;
mod sqlite;
mod sqlite_api_keys;
mod sqlite_log_head;
mod sqlite_queues;
mod sqlite_read_models;

pub use postgres::PgEventStore;
pub use postgres_listener::forward_notifications;
pub use postgres_probe::PgStoreProbe;
pub use postgres_read_models::{PgReadModels, wake_on_appends};
pub use sqlite::SqliteEventStore;
pub use sqlite_read_models::SqliteReadModels;

use application::Error;

/// Maps a database failure to the application's error.
fn unavailable(error: sqlx::Error) -> Error {
    Error::Unavailable(error.to_string())
}

/// The migrations of each database, embedded in the binary.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
