//! The SQLite event store of the embedded mode: one file, one writer at a
//! time (SQLite's own lock, taken at the start of each append).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use application::Error;
use application::ports::{
    APPENDED_OUTBOX_LEASE, AppendOutcome, AppendRequest, EventStore, Metadata, RecordedEvent,
};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use uuid::Uuid;

use super::{SQLITE_MIGRATIONS, unavailable};

#[derive(Clone, Debug)]
pub struct SqliteEventStore {
    pool: SqlitePool,
}

impl SqliteEventStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(unavailable)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        SQLITE_MIGRATIONS.run(&pool).await.map_err(|error| {
            Error::Unavailable(format!("migrating {}: {error}", path.display()))
        })?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

macro_rules! select_events {
    ($clauses:literal) => {
        concat!(
            "select global_position, stream_id, version, type, schema_version, data, metadata, recorded_at from events",
            $clauses
        )
    };
}

fn corrupt(position: i64, what: &str, error: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        position,
        reason: format!("{what}: {error}"),
    }
}

fn record(row: &sqlx::sqlite::SqliteRow) -> Result<RecordedEvent, Error> {
    let position: i64 = row.try_get("global_position").map_err(unavailable)?;
    let stream: String = row.try_get("stream_id").map_err(unavailable)?;
    let data: String = row.try_get("data").map_err(unavailable)?;
    let metadata: String = row.try_get("metadata").map_err(unavailable)?;
    let recorded_at: String = row.try_get("recorded_at").map_err(unavailable)?;
    let metadata: Metadata =
        serde_json::from_str(&metadata).map_err(|e| corrupt(position, "metadata", e))?;
    Ok(RecordedEvent {
        position,
        stream_id: InstanceId(
            Uuid::parse_str(&stream).map_err(|e| corrupt(position, "stream id", e))?,
        ),
        version: row.try_get::<i64, _>("version").map_err(unavailable)? as u64,
        event_type: row.try_get("type").map_err(unavailable)?,
        schema_version: row
            .try_get::<i64, _>("schema_version")
            .map_err(unavailable)? as u32,
        data: serde_json::from_str(&data).map_err(|e| corrupt(position, "data", e))?,
        metadata,
        recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt(position, "recorded_at", e))?
            .to_utc(),
    })
}

impl EventStore for SqliteEventStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        let stream = request.stream_id.0.to_string();
        // IMMEDIATE takes the write lock up front, so two appends never both
        // read a version and then fail to upgrade; dropping the transaction
        // (an error, a cancelled future) rolls it back.
        let mut tx = self
            .pool
            .begin_with("begin immediate")
            .await
            .map_err(unavailable)?;
        let outcome = append_in_transaction(&mut tx, &stream, &request).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(outcome)
    }

    /// One transaction (one commit, one fsync) for every stream; a stream
    /// that moved on is refused before anything of it is written.
    async fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
        let mut tx = self
            .pool
            .begin_with("begin immediate")
            .await
            .map_err(unavailable)?;
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in &requests {
            let stream = request.stream_id.0.to_string();
            outcomes.push(
                match append_in_transaction(&mut tx, &stream, request).await {
                    Err(error @ Error::Conflict { .. }) => Err(error),
                    Err(error) => return Err(error),
                    Ok(outcome) => Ok(outcome),
                },
            );
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(outcomes)
    }

    async fn load(
        &self,
        stream_id: InstanceId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let rows = sqlx::query(select_events!(
            " where stream_id = ?1 and version > ?2 order by version"
        ))
        .bind(stream_id.0.to_string())
        .bind(after_version as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(record).collect()
    }

    async fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        // One writer at a time: positions commit in order, so no gap can be
        // filled later.
        let rows = sqlx::query(select_events!(
            " where global_position > ?1 order by global_position limit ?2"
        ))
        .bind(after_position)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(record).collect()
    }
}

async fn append_in_transaction(
    connection: &mut sqlx::SqliteConnection,
    stream: &str,
    request: &AppendRequest,
) -> Result<AppendOutcome, Error> {
    let expected = request.expected_version;
    let actual: Option<i64> =
        sqlx::query_scalar("select max(version) from events where stream_id = ?1")
            .bind(stream)
            .fetch_one(&mut *connection)
            .await
            .map_err(unavailable)?;
    let actual = actual.unwrap_or(0) as u64;
    if actual != expected {
        return Err(Error::Conflict { expected, actual });
    }
    let now = Utc::now().to_rfc3339();
    let mut last_position = 0;
    for (offset, event) in request.events.iter().enumerate() {
        let metadata = serde_json::to_string(&event.metadata).unwrap_or_default();
        last_position = sqlx::query_scalar(
            "insert into events (stream_id, version, type, schema_version, data, metadata, recorded_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7) returning global_position",
        )
        .bind(stream)
        .bind((expected + 1 + offset as u64) as i64)
        .bind(&event.event_type)
        .bind(i64::from(event.schema_version))
        .bind(event.data.to_string())
        .bind(metadata)
        .bind(&now)
        .fetch_one(&mut *connection)
        .await
        .map_err(unavailable)?;
    }
    let leased_until = super::sqlite_queues::lease_end(Utc::now(), APPENDED_OUTBOX_LEASE);
    let mut outbox_ids = Vec::with_capacity(request.outbox.len());
    for message in &request.outbox {
        outbox_ids.push(
            sqlx::query_scalar(
                "insert into outbox (queue, payload, priority, created_at, locked_until)
                 values (?1, ?2, ?3, ?4, ?5) returning id",
            )
            .bind(&message.queue)
            .bind(message.payload.to_string())
            .bind(i64::from(message.priority))
            .bind(&now)
            .bind(&leased_until)
            .fetch_one(&mut *connection)
            .await
            .map_err(unavailable)?,
        );
    }
    for timer in &request.timers {
        let encoded = serde_json::to_value(&timer.timer).unwrap_or(Value::Null);
        sqlx::query("insert into timers (instance_id, timer, due_at) values (?1, ?2, ?3)")
            .bind(timer.instance.0.to_string())
            .bind(encoded.to_string())
            .bind(
                timer
                    .due_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            )
            .execute(&mut *connection)
            .await
            .map_err(unavailable)?;
    }
    Ok(AppendOutcome {
        version: expected + request.events.len() as u64,
        last_position,
        outbox_ids,
    })
}
