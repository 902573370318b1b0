//! Event stores: PostgreSQL for production, SQLite for the embedded mode.
//! Both pass the same conformance suite (`infrastructure/tests/event_store.rs`).

mod api_key_rows;
mod error;
mod insight_rows;
mod postgres;
mod postgres_api_keys;
pub mod postgres_bench;
mod postgres_listener;
mod postgres_log_head;
#[cfg(test)]
mod postgres_log_plans;
mod postgres_probe;
mod postgres_queues;
mod postgres_read_models;
mod read_model_rows;
mod sqlite;
mod sqlite_api_keys;
mod sqlite_log_head;
mod sqlite_queue_rows;
mod sqlite_queues;
mod sqlite_read_models;

pub use postgres::PgEventStore;
pub use postgres_listener::{forward_notifications, wake_on_appends};
pub use postgres_probe::PgStoreProbe;
pub use postgres_read_models::PgReadModels;
pub use sqlite::SqliteEventStore;
pub use sqlite_queue_rows::{NewQueueRow, QueueRow, RowKind, SqliteQueueRows};
pub use sqlite_read_models::SqliteReadModels;

use error::{database, unreadable, unwritable, violates};

/// The migrations of each database, embedded in the binary.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The pool settings every PostgreSQL pool of a node uses. Connections are
/// not pinged before each use (sqlx's default): the ping was a round trip on
/// every acquire, on the critical path of every command; a connection that
/// broke fails its statement with `Unavailable`, which every caller retries.
pub fn pg_pool_options(max_connections: u32) -> sqlx::postgres::PgPoolOptions {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
}

/// Connection options for a PostgreSQL URL. Without an `sslmode` in the URL
/// a loopback server is reached in plain text (TLS there protects nothing
/// and, through sqlx, cost more than half the engine's throughput); any
/// other host keeps libpq's default, `prefer`.
pub fn pg_options(url: &str) -> Result<sqlx::postgres::PgConnectOptions, sqlx::Error> {
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let loopback = match options.get_host() {
        "localhost" => true,
        host if host.starts_with('/') => true,
        host => host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
    };
    Ok(if loopback && !url.contains("sslmode=") {
        options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
    } else {
        options
    })
}

#[cfg(test)]
mod tests {
    use sqlx::postgres::PgSslMode;

    use super::pg_options;

    #[test]
    fn loopback_servers_are_reached_in_plain_text_unless_the_url_says() {
        for (url, expected) in [
            ("postgres://u@127.0.0.1:5432/d", PgSslMode::Disable),
            ("postgres://u@localhost/d", PgSslMode::Disable),
            (
                "postgres://u@127.0.0.1/d?sslmode=require",
                PgSslMode::Require,
            ),
            ("postgres://u@db.internal/d", PgSslMode::Prefer),
        ] {
            let mode = pg_options(url).unwrap().get_ssl_mode();
            assert_eq!(format!("{mode:?}"), format!("{expected:?}"), "{url}");
        }
    }
}
