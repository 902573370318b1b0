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

use super::{SQLITE_MIGRATIONS, database, unwritable};

#[derive(Clone, Debug)]
pub struct SqliteEventStore {
    pool: SqlitePool,
    pub(crate) writer: Writer,
}

/// One writer at a time, for everything this process writes to the file.
/// SQLite allows one write transaction at a time; two connections that
/// both want to write made the loser wait in SQLite's busy handler, which
/// sleeps (1, 2, 5, 10… ms) instead of being woken. Writers of this
/// process now queue here and never meet in SQLite; readers (WAL) go on
/// beside them. Embedded bench: 712-838 -> 930-997 workflows/s, p99 at 50
/// in flight 204-237 -> 87-93 ms. Another process on the same file still
/// meets the busy handler.
#[derive(Clone, Debug, Default)]
pub(crate) struct Writer(std::sync::Arc<tokio::sync::Mutex<()>>);

/// A write transaction and this process's turn to write, held together
/// (fields drop in order: an unfinished transaction rolls back before the
/// turn passes on).
pub(crate) struct Writing<'a> {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Writer {
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.0.lock().await
    }

    /// Waits for this process's turn, then begins a write transaction.
    /// IMMEDIATE takes SQLite's write lock up front, so two writers never
    /// both read and then fail to upgrade; dropping the transaction (an
    /// error, a cancelled future) rolls it back.
    pub(crate) async fn begin(&self, pool: &SqlitePool) -> Result<Writing<'_>, Error> {
        let turn = self.lock().await;
        let tx = pool.begin_with("begin immediate").await.map_err(database)?;
        Ok(Writing { tx, _turn: turn })
    }
}

impl SqliteEventStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(database)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        // No ping before each use: a round trip to the connection's thread
        // on every statement, for a file that does not drop connections.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(database)?;
        SQLITE_MIGRATIONS
            .run(&pool)
            .await
            .map_err(|error| database(error.into()))?;
        Ok(Self {
            pool,
            writer: Writer::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The events a `select_events!` query selects, in its order.
    async fn events(
        &self,
        query: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let rows = query.fetch_all(&self.pool).await.map_err(database)?;
        rows.iter().map(record).collect()
    }

    /// The read models in the same file, writing in turn with this store.
    pub fn read_models(&self) -> super::SqliteReadModels {
        super::SqliteReadModels::new(self.pool.clone(), self.writer.clone())
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
    let position: i64 = row.try_get("global_position").map_err(database)?;
    let stream: String = row.try_get("stream_id").map_err(database)?;
    let data: String = row.try_get("data").map_err(database)?;
    let metadata: String = row.try_get("metadata").map_err(database)?;
    let recorded_at: String = row.try_get("recorded_at").map_err(database)?;
    let metadata: Metadata =
        serde_json::from_str(&metadata).map_err(|e| corrupt(position, "metadata", e))?;
    Ok(RecordedEvent {
        position,
        transaction: 0,
        stream_id: InstanceId(
            Uuid::parse_str(&stream).map_err(|e| corrupt(position, "stream id", e))?,
        ),
        version: row.try_get::<i64, _>("version").map_err(database)? as u64,
        event_type: row.try_get("type").map_err(database)?,
        schema_version: row.try_get::<i64, _>("schema_version").map_err(database)? as u32,
        data: serde_json::from_str(&data).map_err(|e| corrupt(position, "data", e))?,
        metadata,
        recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
            .map_err(|e| corrupt(position, "recorded_at", e))?
            .to_utc(),
    })
}

impl EventStore for SqliteEventStore {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        self.append_batch(vec![request])
            .await?
            .pop()
            .unwrap_or(Err(Error::Internal {
                reason: "an append decided nothing".into(),
                source: None,
            }))
    }

    /// One transaction (one commit, one fsync) for every stream; a stream
    /// that moved on is refused before anything of it is written.
    async fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
        let mut writing = self.writer.begin(&self.pool).await?;
        let outcomes = append_all(&mut writing.tx, &requests).await?;
        writing.tx.commit().await.map_err(database)?;
        Ok(outcomes)
    }

    async fn load(
        &self,
        stream_id: InstanceId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        self.events(
            sqlx::query(select_events!(
                " where stream_id = ?1 and version > ?2 order by version"
            ))
            .bind(stream_id.0.to_string())
            .bind(after_version as i64),
        )
        .await
    }

    async fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        // One writer at a time: positions commit in order, so no gap can be
        // filled later.
        self.events(
            sqlx::query(select_events!(
                " where global_position > ?1 order by global_position limit ?2"
            ))
            .bind(after_position)
            .bind(limit as i64),
        )
        .await
    }
}

/// Appends requests in the open transaction with four statements whatever
/// their number (the versions, then the events, outbox rows and timers of
/// the streams that pass, each as one insert over a JSON array): each
/// statement is a round trip to sqlx's SQLite thread. A stream not at its
/// expected version is refused before anything of it is written.
async fn append_all(
    connection: &mut sqlx::SqliteConnection,
    requests: &[AppendRequest],
) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
    let streams: Vec<String> = requests
        .iter()
        .map(|request| request.stream_id.0.to_string())
        .collect();
    let versions: Vec<(String, Option<i64>)> = sqlx::query_as(
        "select j.value, (select max(version) from events where stream_id = j.value)
         from json_each(?1) j order by j.key",
    )
    .bind(Value::from(streams.as_slice()).to_string())
    .fetch_all(&mut *connection)
    .await
    .map_err(database)?;
    let now = Utc::now().to_rfc3339();
    let leased_until = super::sqlite_queues::lease_end(Utc::now(), APPENDED_OUTBOX_LEASE);
    let (mut events, mut outbox, mut timers) = (Vec::new(), Vec::new(), Vec::new());
    let mut accepted = Vec::with_capacity(requests.len());
    for (request, (stream, (_, actual))) in requests.iter().zip(streams.iter().zip(&versions)) {
        let actual = actual.unwrap_or(0) as u64;
        if actual != request.expected_version {
            accepted.push(Err(Error::Conflict {
                expected: request.expected_version,
                actual,
            }));
            continue;
        }
        accepted.push(Ok(stream));
        for (offset, event) in request.events.iter().enumerate() {
            let metadata = serde_json::to_value(&event.metadata)
                .map_err(|error| unwritable("an event's metadata", error))?;
            events.push(serde_json::json!({
                "s": stream,
                "v": request.expected_version + 1 + offset as u64,
                "t": event.event_type,
                "sv": event.schema_version,
                "d": event.data,
                "m": metadata,
            }));
        }
        for message in &request.outbox {
            outbox.push(serde_json::json!({
                "q": message.queue, "p": message.payload, "pr": message.priority,
            }));
        }
        for timer in &request.timers {
            let timer_value =
                serde_json::to_value(&timer.timer).map_err(|error| unwritable("a timer", error))?;
            timers.push(serde_json::json!({
                "i": timer.instance.0.to_string(),
                "t": timer_value,
                "d": timer.due_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            }));
        }
    }
    let mut last_positions = std::collections::HashMap::new();
    if !events.is_empty() {
        let appended: Vec<(i64, String)> = sqlx::query_as(
            "insert into events (stream_id, version, type, schema_version, data, metadata, recorded_at)
             select e.value ->> 's', e.value ->> 'v', e.value ->> 't', e.value ->> 'sv',
                    e.value -> 'd', e.value -> 'm', ?2
             from json_each(?1) e order by e.key
             returning global_position, stream_id",
        )
        .bind(Value::Array(events).to_string())
        .bind(&now)
        .fetch_all(&mut *connection)
        .await
        .map_err(database)?;
        for (position, stream) in appended {
            let last = last_positions.entry(stream).or_insert(position);
            *last = (*last).max(position);
        }
    }
    let mut outbox_ids: Vec<i64> = Vec::new();
    if !outbox.is_empty() {
        outbox_ids = sqlx::query_scalar(
            "insert into outbox (queue, payload, priority, created_at, locked_until)
             select o.value ->> 'q', o.value -> 'p', o.value ->> 'pr', ?2, ?3
             from json_each(?1) o order by o.key
             returning id",
        )
        .bind(Value::Array(outbox).to_string())
        .bind(&now)
        .bind(&leased_until)
        .fetch_all(&mut *connection)
        .await
        .map_err(database)?;
        // Ids are drawn in insertion order, which is the array's.
        outbox_ids.sort_unstable();
    }
    if !timers.is_empty() {
        sqlx::query(
            "insert into timers (instance_id, timer, due_at)
             select t.value ->> 'i', t.value -> 't', t.value ->> 'd'
             from json_each(?1) t order by t.key",
        )
        .bind(Value::Array(timers).to_string())
        .execute(&mut *connection)
        .await
        .map_err(database)?;
    }
    let mut outbox_ids = outbox_ids.into_iter();
    Ok(requests
        .iter()
        .zip(accepted)
        .map(|(request, accepted)| {
            let stream = accepted?;
            Ok(AppendOutcome {
                version: request.expected_version + request.events.len() as u64,
                last_position: last_positions.get(stream).copied().unwrap_or_default(),
                outbox_ids: outbox_ids.by_ref().take(request.outbox.len()).collect(),
            })
        })
        .collect())
}
