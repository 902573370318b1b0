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
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        let stream = request.stream_id.0;
        let expected = request.expected_version;
        let count = request.events.len() as u64;
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let actual: Option<i32> =
            sqlx::query_scalar("select max(version) from events where stream_id = $1")
                .bind(stream)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?;
        let actual = actual.unwrap_or(0) as u64;
        if actual != expected {
            return Err(Error::Conflict { expected, actual });
        }
        let mut versions = Vec::with_capacity(request.events.len());
        let mut types = Vec::with_capacity(request.events.len());
        let mut schema_versions = Vec::with_capacity(request.events.len());
        let mut data = Vec::with_capacity(request.events.len());
        let mut metadata = Vec::with_capacity(request.events.len());
        for (offset, event) in request.events.iter().enumerate() {
            versions.push((expected + 1 + offset as u64) as i32);
            types.push(event.event_type.clone());
            schema_versions.push(event.schema_version as i32);
            data.push(event.data.clone());
            metadata.push(serde_json::to_value(&event.metadata).unwrap_or(Value::Null));
        }
        let inserted: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(
            "insert into events (stream_id, version, type, schema_version, data, metadata)
             select $1, * from unnest($2::int[], $3::text[], $4::int[], $5::jsonb[], $6::jsonb[])
             returning global_position",
        )
        .bind(stream)
        .bind(&versions)
        .bind(&types)
        .bind(&schema_versions)
        .bind(&data)
        .bind(&metadata)
        .fetch_all(&mut *tx)
        .await
        .map(|positions: Vec<i64>| positions.into_iter().max());
        let last_position = match inserted {
            Ok(position) => position.unwrap_or(0),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                drop(tx);
                let actual = self.current_version(stream).await?;
                return Err(Error::Conflict { expected, actual });
            }
            Err(error) => return Err(unavailable(error)),
        };
        if !request.outbox.is_empty() {
            let queues: Vec<&str> = request.outbox.iter().map(|m| m.queue.as_str()).collect();
            let payloads: Vec<&Value> = request.outbox.iter().map(|m| &m.payload).collect();
            let priorities: Vec<i16> = request
                .outbox
                .iter()
                .map(|m| i16::from(m.priority))
                .collect();
            sqlx::query(
                "insert into outbox (queue, payload, priority)
                 select * from unnest($1::text[], $2::jsonb[], $3::smallint[])",
            )
            .bind(&queues)
            .bind(&payloads)
            .bind(&priorities)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        if !request.timers.is_empty() {
            let instances: Vec<Uuid> = request.timers.iter().map(|t| t.instance.0).collect();
            let timers: Vec<Value> = request
                .timers
                .iter()
                .map(|t| serde_json::to_value(&t.timer).unwrap_or(Value::Null))
                .collect();
            let due: Vec<DateTime<Utc>> = request.timers.iter().map(|t| t.due_at).collect();
            sqlx::query(
                "insert into timers (instance_id, timer, due_at)
                 select * from unnest($1::uuid[], $2::jsonb[], $3::timestamptz[])",
            )
            .bind(&instances)
            .bind(&timers)
            .bind(&due)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        // Wake the relays and timer pollers of every node (delivered at commit).
        if !request.outbox.is_empty() {
            sqlx::query("select pg_notify('distorch_outbox', '')")
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        if !request.timers.is_empty() {
            sqlx::query("select pg_notify('distorch_timers', '')")
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(AppendOutcome {
            version: expected + count,
            last_position,
        })
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
