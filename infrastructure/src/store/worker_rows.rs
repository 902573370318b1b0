//! The worker registry's rows and the statements both stores share (sqlx
//! reads SQLite's JSON and time text as it reads PostgreSQL's `jsonb` and
//! `timestamptz`). The adapters: `postgres_workers.rs`, `sqlite_workers.rs`.

use application::Error;
use application::fleet::{Transport, WorkerRecord};
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::unreadable;

const COLUMNS: &str = "id, name, host, version, transport, queues, capacity, in_flight,
    completed, failed, started_at, last_seen, draining, gone";

/// Inserts or replaces a worker's row; `draining` once set stays set.
pub(super) const PUT: &str = "insert into workers (id, name, host, version, transport, queues,
        capacity, in_flight, completed, failed, started_at, last_seen, draining, gone)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    on conflict (id) do update set name = excluded.name, host = excluded.host,
        version = excluded.version, transport = excluded.transport, queues = excluded.queues,
        capacity = excluded.capacity, in_flight = excluded.in_flight,
        completed = excluded.completed, failed = excluded.failed,
        started_at = excluded.started_at, last_seen = excluded.last_seen,
        draining = workers.draining or excluded.draining, gone = excluded.gone";

pub(super) const MARK_DRAINING: &str = "update workers set draining = true where id = $1";
pub(super) const FORGET: &str = "delete from workers where last_seen < $1";

pub(super) fn get() -> String {
    format!("select {COLUMNS} from workers where id = $1")
}

pub(super) fn list() -> String {
    format!("select {COLUMNS} from workers order by name, id")
}

/// `condition` selects the row holding task `$1`, in the store's dialect.
pub(super) fn holding(condition: &str) -> String {
    format!("select {COLUMNS} from workers where {condition} limit 1")
}

#[derive(sqlx::FromRow)]
pub(super) struct WorkerRow {
    id: String,
    name: String,
    host: String,
    version: String,
    transport: String,
    queues: Json<Vec<String>>,
    capacity: i32,
    in_flight: Json<Vec<String>>,
    completed: i64,
    failed: i64,
    started_at: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    draining: bool,
    gone: bool,
}

impl TryFrom<WorkerRow> for WorkerRecord {
    type Error = Error;

    fn try_from(row: WorkerRow) -> Result<Self, Error> {
        let transport = Transport::parse(&row.transport).ok_or_else(|| {
            unreadable(
                "workers.transport",
                format!("unknown transport {:?}", row.transport),
            )
        })?;
        Ok(WorkerRecord {
            id: row.id,
            name: row.name,
            host: row.host,
            version: row.version,
            transport,
            queues: row.queues.0,
            capacity: u32::try_from(row.capacity).unwrap_or(0),
            in_flight: row.in_flight.0,
            completed: u64::try_from(row.completed).unwrap_or(0),
            failed: u64::try_from(row.failed).unwrap_or(0),
            started_at: row.started_at,
            last_seen: row.last_seen,
            draining: row.draining,
            gone: row.gone,
        })
    }
}

/// Rows read into records.
pub(super) fn records(rows: Vec<WorkerRow>) -> Result<Vec<WorkerRecord>, Error> {
    rows.into_iter().map(WorkerRecord::try_from).collect()
}

/// The counts as the stores keep them (signed 64-bit).
pub(super) fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(super) fn capacity(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
