//! The PostgreSQL event store.

use application::Error;
use application::ports::{
    APPENDED_OUTBOX_LEASE, AppendOutcome, AppendRequest, EventStore, Metadata, RecordedEvent,
};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::error::STREAM_VERSION;
use super::{database, unwritable, violates};

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

    /// The events a `select_events!` query selects, in its order.
    async fn events(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let rows = query.fetch_all(&self.pool).await.map_err(database)?;
        rows.iter().map(record).collect()
    }

    async fn current_version(&self, stream_id: Uuid) -> Result<u64, Error> {
        let version: Option<i32> =
            sqlx::query_scalar("select max(version) from events where stream_id = $1")
                .bind(stream_id)
                .fetch_one(&self.pool)
                .await
                .map_err(database)?;
        Ok(version.unwrap_or(0) as u64)
    }
}

fn record(row: &sqlx::postgres::PgRow) -> Result<RecordedEvent, Error> {
    let position: i64 = row.try_get("global_position").map_err(database)?;
    let metadata: Value = row.try_get("metadata").map_err(database)?;
    let metadata: Metadata = serde_json::from_value(metadata).map_err(|error| Error::Corrupt {
        position,
        reason: format!("metadata: {error}"),
    })?;
    Ok(RecordedEvent {
        position,
        transaction: row.try_get::<i64, _>("tx_number").map_err(database)? as u64,
        stream_id: InstanceId(row.try_get("stream_id").map_err(database)?),
        version: row.try_get::<i32, _>("version").map_err(database)? as u64,
        event_type: row.try_get("type").map_err(database)?,
        schema_version: row.try_get::<i32, _>("schema_version").map_err(database)? as u32,
        data: row.try_get("data").map_err(database)?,
        metadata,
        recorded_at: row
            .try_get::<DateTime<Utc>, _>("recorded_at")
            .map_err(database)?,
    })
}

/// The lease appended outbox rows start with, as a PostgreSQL interval.
fn outbox_lease() -> sqlx::postgres::types::PgInterval {
    sqlx::postgres::types::PgInterval {
        months: 0,
        days: 0,
        microseconds: APPENDED_OUTBOX_LEASE.as_micros() as i64,
    }
}

/// The ids of the outbox rows an append wrote, in insertion order (identity
/// values are drawn in the order of the ordered insert); none if there are
/// not as many as expected.
fn outbox_ids(row: &sqlx::postgres::PgRow, expected: usize) -> Result<Vec<i64>, Error> {
    let ids: Option<Vec<i64>> = row.try_get("outbox_ids").map_err(database)?;
    Ok(ids.filter(|ids| ids.len() == expected).unwrap_or_default())
}

/// `select ... from events` followed by the given clauses. The transaction
/// comes out as `tx_number`, never `as tx`: a name in `order by` means the
/// output column first, so `order by tx` would sort by the cast, which no
/// index holds (a sequential scan and a sort of the whole log, per read).
macro_rules! select_events {
    ($clauses:literal) => {
        concat!(
            "select global_position, tx::text::bigint as tx_number, stream_id, version, type, schema_version, data, metadata, recorded_at from events",
            $clauses
        )
    };
}

/// A stream's events after a version, through `events_stream_version`.
pub(super) const LOAD: &str =
    select_events!(" where stream_id = $1 and version > $2 order by version");

/// The global log in commit-safe order (see migration `commit_order`):
/// after the event at `$1` (or the last one before it, for a position that
/// names none) in (tx, position) order, and only below every transaction
/// still running; in the order `events_commit_order` holds.
pub(super) const READ_ALL: &str = select_events!(
    " where (tx, global_position) > (
          coalesce((select tx from events where global_position <= $1
                    order by global_position desc limit 1), '0'::xid8), $1)
        and tx < pg_snapshot_xmin(pg_current_snapshot())
      order by tx, global_position limit $2"
);

impl EventStore for PgEventStore {
    /// One statement, so one round trip and its own transaction (see
    /// [`PgEventStore::append_all`]).
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        let expected = request.expected_version;
        let stream = request.stream_id.0;
        match self.append_all(std::slice::from_ref(&request)).await? {
            Some(mut outcomes) => outcomes.pop().unwrap_or(Err(Error::Internal {
                reason: "an append returned no row".into(),
                source: None,
            })),
            None => Err(Error::Conflict {
                expected,
                actual: self.current_version(stream).await?,
            }),
        }
    }

    /// One statement for every stream (see [`PgEventStore::append_all`]). A
    /// racing append that slips past a check aborts the statement; then each
    /// request is appended on its own, so the others still land.
    async fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
        if requests.len() == 1 {
            let request = requests.into_iter().next().expect("one request");
            return Ok(vec![self.append(request).await]);
        }
        // Every appender inserts streams in one order (by id): two batches
        // that touch the same streams then wait for each other instead of
        // deadlocking, which PostgreSQL breaks only after `deadlock_timeout`
        // (1 s: it was the p99 of the cluster bench).
        let mut indexed: Vec<(usize, AppendRequest)> = requests.into_iter().enumerate().collect();
        indexed.sort_by_key(|(_, request)| request.stream_id.0);
        let (order, sorted): (Vec<usize>, Vec<AppendRequest>) = indexed.into_iter().unzip();
        let outcomes = match self.append_all(&sorted).await? {
            Some(outcomes) => outcomes,
            None => {
                let mut outcomes = Vec::with_capacity(sorted.len());
                for request in sorted {
                    outcomes.push(self.append(request).await);
                }
                outcomes
            }
        };
        let mut in_request_order: Vec<Option<Result<AppendOutcome, Error>>> =
            (0..order.len()).map(|_| None).collect();
        for (&index, outcome) in order.iter().zip(outcomes) {
            in_request_order[index] = Some(outcome);
        }
        Ok(in_request_order.into_iter().flatten().collect())
    }

    async fn load(
        &self,
        stream_id: InstanceId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        self.events(
            sqlx::query(LOAD)
                .bind(stream_id.0)
                .bind(after_version as i32),
        )
        .await
    }

    async fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        self.events(
            sqlx::query(READ_ALL)
                .bind(after_position)
                .bind(limit as i64),
        )
        .await
    }
}

impl PgEventStore {
    /// Appends to every stream of `requests` in one statement: each stream's
    /// version is checked on its own, and the events, outbox rows (leased to
    /// this appender), timers and notifications of the streams that pass are
    /// inserted together, in one transaction and one round trip (the events
    /// table's trigger sends `distorch_events` with the last position). A
    /// stream not at its expected version gets [`Error::Conflict`]. `None`
    /// when a racing append slipped past a check and hit the unique
    /// `(stream_id, version)` (`STREAM_VERSION`): then nothing was written.
    async fn append_all(
        &self,
        requests: &[AppendRequest],
    ) -> Result<Option<Vec<Result<AppendOutcome, Error>>>, Error> {
        let batch = BatchColumns::of(requests)?;
        let rows = sqlx::query(
            "with expected as (
                 select * from unnest($1::uuid[], $2::int[]) with ordinality as e(stream_id, version, n)
             ), checked as (
                 select e.stream_id, e.version, e.n,
                        coalesce((select max(version) from events where stream_id = e.stream_id), 0) as actual
                 from expected e
             ), accepted as (
                 select stream_id from checked where actual = version
             ), appended as (
                 insert into events (stream_id, version, type, schema_version, data, metadata)
                 select v.stream_id, v.version, v.type, v.schema_version, v.data, v.metadata
                 from unnest($3::uuid[], $4::int[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])
                     with ordinality as v(stream_id, version, type, schema_version, data, metadata, n)
                 where v.stream_id in (select stream_id from accepted)
                 order by v.n
                 returning stream_id, global_position
             ), outbox_rows as (
                 insert into outbox (queue, payload, priority, locked_until)
                 select o.queue, o.payload, o.priority, now() + $16::interval
                 from unnest($9::uuid[], $10::text[], $11::jsonb[], $12::smallint[])
                     with ordinality as o(stream_id, queue, payload, priority, n)
                 where o.stream_id in (select stream_id from accepted)
                 order by o.n
                 returning id
             ), timer_rows as (
                 insert into timers (instance_id, timer, due_at)
                 select t.instance_id, t.timer, t.due_at
                 from unnest($13::uuid[], $14::jsonb[], $15::timestamptz[]) as t(instance_id, timer, due_at)
                 where t.instance_id in (select stream_id from accepted)
                 returning 1
             ), wake_pollers as (
                 select pg_notify('distorch_timers', '') where exists (select 1 from timer_rows)
             ), positions as (
                 select stream_id, max(global_position) as last_position from appended group by stream_id
             )
             select c.actual, p.last_position,
                    (select array_agg(id order by id) from outbox_rows) as outbox_ids,
                    (select count(*) from wake_pollers) as woken
             from checked c left join positions p on p.stream_id = c.stream_id
             order by c.n",
        )
        .bind(&batch.streams)
        .bind(&batch.expected)
        .bind(&batch.event_streams)
        .bind(&batch.versions)
        .bind(&batch.types)
        .bind(&batch.schema_versions)
        .bind(&batch.data)
        .bind(&batch.metadata)
        .bind(&batch.outbox_streams)
        .bind(&batch.queues)
        .bind(&batch.payloads)
        .bind(&batch.priorities)
        .bind(&batch.timer_instances)
        .bind(&batch.timers)
        .bind(&batch.due)
        .bind(outbox_lease())
        .fetch_all(&self.pool)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) if violates(&error, STREAM_VERSION) => return Ok(None),
            Err(error) => return Err(database(error)),
        };
        // The outbox ids of the streams that landed, in request order.
        let landed: usize = requests
            .iter()
            .zip(&rows)
            .filter(|(_, row)| {
                matches!(row.try_get::<Option<i64>, _>("last_position"), Ok(Some(_)))
            })
            .map(|(request, _)| request.outbox.len())
            .sum();
        let mut ids = match rows.first() {
            Some(row) => outbox_ids(row, landed)?,
            None => Vec::new(),
        }
        .into_iter();
        let known = ids.len() == landed;
        let outcomes = requests
            .iter()
            .zip(&rows)
            .map(|(request, row)| {
                let expected = request.expected_version;
                let last_position: Option<i64> = row.try_get("last_position").map_err(database)?;
                Ok(match last_position {
                    Some(last_position) => Ok(AppendOutcome {
                        version: expected + request.events.len() as u64,
                        last_position,
                        outbox_ids: if known {
                            ids.by_ref().take(request.outbox.len()).collect()
                        } else {
                            Vec::new()
                        },
                    }),
                    None => {
                        let actual: i32 = row.try_get("actual").map_err(database)?;
                        Err(Error::Conflict {
                            expected,
                            actual: actual as u64,
                        })
                    }
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Some(outcomes))
    }
}

/// The requests of a batch append as parallel columns for `unnest`.
struct BatchColumns<'a> {
    streams: Vec<Uuid>,
    expected: Vec<i32>,
    event_streams: Vec<Uuid>,
    versions: Vec<i32>,
    types: Vec<&'a str>,
    schema_versions: Vec<i32>,
    data: Vec<&'a Value>,
    metadata: Vec<Value>,
    outbox_streams: Vec<Uuid>,
    queues: Vec<&'a str>,
    payloads: Vec<&'a Value>,
    priorities: Vec<i16>,
    timer_instances: Vec<Uuid>,
    timers: Vec<Value>,
    due: Vec<DateTime<Utc>>,
}

impl<'a> BatchColumns<'a> {
    fn of(requests: &'a [AppendRequest]) -> Result<Self, Error> {
        let mut columns = Self {
            streams: Vec::with_capacity(requests.len()),
            expected: Vec::with_capacity(requests.len()),
            event_streams: Vec::new(),
            versions: Vec::new(),
            types: Vec::new(),
            schema_versions: Vec::new(),
            data: Vec::new(),
            metadata: Vec::new(),
            outbox_streams: Vec::new(),
            queues: Vec::new(),
            payloads: Vec::new(),
            priorities: Vec::new(),
            timer_instances: Vec::new(),
            timers: Vec::new(),
            due: Vec::new(),
        };
        for request in requests {
            let stream = request.stream_id.0;
            columns.streams.push(stream);
            columns.expected.push(request.expected_version as i32);
            for (offset, event) in request.events.iter().enumerate() {
                columns.event_streams.push(stream);
                columns
                    .versions
                    .push((request.expected_version + 1 + offset as u64) as i32);
                columns.types.push(&event.event_type);
                columns.schema_versions.push(event.schema_version as i32);
                columns.data.push(&event.data);
                columns.metadata.push(
                    serde_json::to_value(&event.metadata)
                        .map_err(|error| unwritable("an event's metadata", error))?,
                );
            }
            for message in &request.outbox {
                columns.outbox_streams.push(stream);
                columns.queues.push(&message.queue);
                columns.payloads.push(&message.payload);
                columns.priorities.push(i16::from(message.priority));
            }
            for timer in &request.timers {
                columns.timer_instances.push(timer.instance.0);
                columns.timers.push(
                    serde_json::to_value(&timer.timer)
                        .map_err(|error| unwritable("a timer", error))?,
                );
                columns.due.push(timer.due_at);
            }
        }
        Ok(columns)
    }
}
