//! Connecting a subcommand to its database, brought to the current schema:
//! PostgreSQL with a URL, else the embedded SQLite file.

use std::path::Path;

use anyhow::Context;
use infrastructure::store::{POSTGRES_MIGRATIONS, SqliteEventStore, pg_options, pg_pool_options};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// The database a node keeps its log, read models and keys in.
pub enum Stores {
    Postgres(PgPool),
    /// The store of the embedded mode; its read models and keys are in the
    /// same file.
    Sqlite(SqliteEventStore),
}

/// PostgreSQL at `database_url` (`max_connections` at most), else the SQLite
/// file `data`; migrated either way.
pub async fn open(
    database_url: Option<&str>,
    data: &Path,
    max_connections: u32,
) -> anyhow::Result<Stores> {
    Ok(match database_url {
        Some(url) => Stores::Postgres(postgres(pg_options(url)?, max_connections).await?),
        None => Stores::Sqlite(SqliteEventStore::open(data).await?),
    })
}

/// A pool of PostgreSQL connections, the database migrated.
pub async fn postgres(options: PgConnectOptions, max_connections: u32) -> anyhow::Result<PgPool> {
    let pool = pg_pool_options(max_connections)
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL (DATABASE_URL)")?;
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .context("migrating PostgreSQL")?;
    Ok(pool)
}
