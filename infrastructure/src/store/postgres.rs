//! The PostgreSQL event store.

use application::Error;
use application::ports::{AppendOutcome, AppendRequest, EventStore, Metadata, RecordedEvent};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::unavailable;

#[derive(Clone, Debug)]
pub struct PgEventStore {
    pool: PgPool,
}

impl PgEventStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn current_version(&self, stream_id: Uuid) -> Result<u64, Error> {
        let version: Option<i32> =
            sqlx::query_scalar("select max(version) from events where stream_id = $1")
                .bind(stream_id)
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(version.unwrap_or(0) as u64)
    }
}

fn record(row: &sqlx::postgres::PgRow) -> Result<RecordedEvent, Error> {
    let position: i64 = row.try_get("global_position").map_err(unavailable)?;
    let metadata: Value = row.try_get("metadata").map_err(unavailable)?;
    let metadata: Metadata = serde_json::from_value(metadata).map_err(|error| Error::Corrupt {
        position,
        reason: format!("metadata: {error}"),
    })?;
    Ok(RecordedEvent {
        position,
        stream_id: InstanceId(row.try_get("stream_id").map_err(unavailable)?),
        version: row.try_get::<i32, _>("version").map_err(unavailable)? as u64,
        event_type: row.try_get("type").map_err(unavailable)?,
        schema_version: row
            .try_get::<i32, _>("schema_version")
            .map_err(unavailable)? as u32,
        data: row.try_get("data").map_err(unavailable)?,
        metadata,
        recorded_at: row
            .try_get::<DateTime<Utc>, _>("recorded_at")
            .map_err(unavailable)?,
    })
}

/// `select ... from events` followed by the given clauses.
macro_rules! select_events {
    ($clauses:literal) => {
        concat!(
            "select global_position, stream_id, version, type, schema_version, data, metadata, recorded_at from events",
            $clauses
        )
    };
}

impl EventStore for PgEventStore {
    /// One statement, so one round trip and its own transaction: the version
    /// check, the events, the outbox rows, the timers and the notifications
    /// (`distorch_events` carries the last position, for the event feeds)
    /// land together or not at all. The events are inserted only if the
    /// stream is at the expected version; the side tables only if the events
    /// were; a racing append that slips past the check hits the unique
    /// `(stream_id, version)` and aborts the whole statement.
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        let stream = request.stream_id.0;
        let expected = request.expected_version;
        let count = request.events.len() as u64;
        let events = &request.events;
        let versions: Vec<i32> = (0..events.len())
            .map(|offset| (expected + 1 + offset as u64) as i32)
            .collect();
        let types: Vec<&str> = events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect();
        let schema_versions: Vec<i32> = events
            .iter()
            .map(|event| event.schema_version as i32)
            .collect();
        let data: Vec<&Value> = events.iter().map(|event| &event.data).collect();
        let metadata: Vec<Value> = events
            .iter()
            .map(|event| serde_json::to_value(&event.metadata).unwrap_or(Value::Null))
            .collect();
        let queues: Vec<&str> = request.outbox.iter().map(|m| m.queue.as_str()).collect();
        let payloads: Vec<&Value> = request.outbox.iter().map(|m| &m.payload).collect();
        let priorities: Vec<i16> = request
            .outbox
            .iter()
            .map(|m| i16::from(m.priority))
            .collect();
        let timer_instances: Vec<Uuid> = request.timers.iter().map(|t| t.instance.0).collect();
        let timers: Vec<Value> = request
            .timers
            .iter()
            .map(|t| serde_json::to_value(&t.timer).unwrap_or(Value::Null))
            .collect();
        let due: Vec<DateTime<Utc>> = request.timers.iter().map(|t| t.due_at).collect();
        let row = sqlx::query(
            "with current as (
                 select coalesce(max(version), 0) as version from events where stream_id = $1
             ), appended as (
                 insert into events (stream_id, version, type, schema_version, data, metadata)
                 select $1, v.* from unnest($2::int[], $3::text[], $4::int[], $5::jsonb[], $6::jsonb[])
                     as v(version, type, schema_version, data, metadata)
                 where (select version from current) = $7
                 returning global_position
             ), outbox_rows as (
                 insert into outbox (queue, payload, priority)
                 select * from unnest($8::text[], $9::jsonb[], $10::smallint[])
                 where exists (select 1 from appended)
             ), timer_rows as (
                 insert into timers (instance_id, timer, due_at)
                 select * from unnest($11::uuid[], $12::jsonb[], $13::timestamptz[])
                 where exists (select 1 from appended)
             ), wake_relays as (
                 select pg_notify('distorch_outbox', '')
                 where exists (select 1 from appended) and cardinality($8::text[]) > 0
             ), wake_pollers as (
                 select pg_notify('distorch_timers', '')
                 where exists (select 1 from appended) and cardinality($11::uuid[]) > 0
             ), wake_feeds as (
                 select pg_notify('distorch_events', max(global_position)::text)
                 from appended having count(*) > 0
             )
             select (select max(global_position) from appended) as last_position,
                    (select version from current) as actual,
                    (select count(*) from wake_relays) + (select count(*) from wake_pollers)
                        + (select count(*) from wake_feeds) as woken",
        )
        .bind(stream)
        .bind(&versions)
        .bind(&types)
        .bind(&schema_versions)
        .bind(&data)
        .bind(&metadata)
        .bind(expected as i32)
        .bind(&queues)
        .bind(&payloads)
        .bind(&priorities)
        .bind(&timer_instances)
        .bind(&timers)
        .bind(&due)
        .fetch_one(&self.pool)
        .await;
        let row = match row {
            Ok(row) => row,
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                let actual = self.current_version(stream).await?;
                return Err(Error::Conflict { expected, actual });
            }
            Err(error) => return Err(unavailable(error)),
        };
        let last_position: Option<i64> = row.try_get("last_position").map_err(unavailable)?;
        match last_position {
            Some(last_position) => Ok(AppendOutcome {
                version: expected + count,
                last_position,
            }),
            None => {
                let actual: i32 = row.try_get("actual").map_err(unavailable)?;
                Err(Error::Conflict {
                    expected,
                    actual: actual as u64,
                })
            }
        }
    }

    async fn load(
        &self,
        stream_id: InstanceId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let rows = sqlx::query(select_events!(
            " where stream_id = $1 and version > $2 order by version"
        ))
        .bind(stream_id.0)
        .bind(after_version as i32)
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
        let rows = sqlx::query(select_events!(
            " where global_position > $1 and tx < pg_snapshot_xmin(pg_current_snapshot())
              order by global_position limit $2"
        ))
        .bind(after_position)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(record).collect()
    }
}
