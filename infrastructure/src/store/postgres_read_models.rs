//! The read models on PostgreSQL: the projection writer (rows and
//! checkpoint in one transaction, under a transaction-level advisory lock so
//! one node projects at a time), the queries of the API and the stored
//! definitions.

use std::collections::BTreeMap;

use application::Error;
use application::ports::{
    ApplyOutcome, Bottleneck, DefinitionDurations, DefinitionStore, DurationStats, IdempotencyKeys,
    ProjectionBatch, ProjectionWriter, ReadModelQueries, StatusCount, StepDurations, StepRow,
    StoredDefinition, WorkflowFilter, WorkflowRow,
};
use application::projection::{Change, ChangeKind, StepChange};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use super::unavailable;

/// The advisory lock that makes one node at a time the projector.
const PROJECTION_LOCK: i64 = i64::from_be_bytes(*b"distorch");
const PROJECTION: &str = "read_models";

#[derive(Clone, Debug)]
pub struct PgReadModels {
    pool: PgPool,
}

impl PgReadModels {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

impl ProjectionWriter for PgReadModels {
    async fn checkpoint(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select position from projection_checkpoints where name = $1")
            .bind(PROJECTION)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn oldest_unprojected(&self) -> Result<Option<DateTime<Utc>>, Error> {
        sqlx::query_scalar(
            "select recorded_at from events
             where global_position > (select position from projection_checkpoints where name = $1)
             order by global_position limit 1",
        )
        .bind(PROJECTION)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)
    }

    async fn log_head(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select coalesce(max(global_position), 0) from events")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn apply(&self, batch: &ProjectionBatch) -> Result<ApplyOutcome, Error> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
            .bind(PROJECTION_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        if !locked {
            return Ok(ApplyOutcome::Busy);
        }
        let position: i64 = sqlx::query_scalar(
            "select position from projection_checkpoints where name = $1 for update",
        )
        .bind(PROJECTION)
        .fetch_one(&mut *tx)
        .await
        .map_err(unavailable)?;
        if position != batch.after {
            return Ok(ApplyOutcome::Moved);
        }
        let mut touched: BTreeMap<InstanceId, DateTime<Utc>> = BTreeMap::new();
        for change in &batch.changes {
            apply_change(&mut tx, change).await?;
            touched.insert(change.instance, change.at);
        }
        for (instance, at) in touched {
            sqlx::query(
                "update workflow_instances set updated_at = $2,
                     current_steps = (select coalesce(jsonb_agg(step order by position), '[]')
                         from workflow_steps where instance_id = $1
                         and status in ('scheduled', 'running', 'waiting')),
                     failed_steps = (select coalesce(jsonb_agg(step order by position), '[]')
                         from workflow_steps where instance_id = $1 and status = 'failed')
                 where id = $1",
            )
            .bind(instance.0)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        sqlx::query("update projection_checkpoints set position = $2 where name = $1")
            .bind(PROJECTION)
            .bind(batch.through)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(ApplyOutcome::Applied)
    }

    async fn reset(&self) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(PROJECTION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("truncate workflow_instances, workflow_steps")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("update projection_checkpoints set position = 0 where name = $1")
            .bind(PROJECTION)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn record_progress(
        &self,
        instance: InstanceId,
        step: &str,
        progress: u8,
    ) -> Result<(), Error> {
        sqlx::query(
            "update workflow_steps set progress = $3
             where instance_id = $1 and step = $2 and status = 'running'",
        )
        .bind(instance.0)
        .bind(step)
        .bind(i16::from(progress.min(100)))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

async fn apply_change(connection: &mut PgConnection, change: &Change) -> Result<(), Error> {
    let id = change.instance.0;
    let at = change.at;
    let query = match &change.kind {
        ChangeKind::Started {
            definition,
            version,
            input,
            started_by,
            steps,
        } => {
            sqlx::query(
                "insert into workflow_instances
                     (id, definition, definition_version, status, input, started_by, created_at, updated_at)
                 values ($1, $2, $3, 'running', $4, $5, $6, $6) on conflict (id) do nothing",
            )
            .bind(id)
            .bind(definition)
            .bind(*version as i32)
            .bind(input)
            .bind(started_by)
            .bind(at)
            .execute(&mut *connection)
            .await
            .map_err(unavailable)?;
            let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
            let positions: Vec<i32> = steps.iter().map(|s| s.position as i32).collect();
            let kinds: Vec<&str> = steps.iter().map(|s| s.kind.as_str()).collect();
            sqlx::query(
                "insert into workflow_steps (instance_id, step, position, kind)
                 select $1, * from unnest($2::text[], $3::int[], $4::text[])
                 on conflict do nothing",
            )
            .bind(id)
            .bind(names)
            .bind(positions)
            .bind(kinds)
        }
        ChangeKind::Status(status) => {
            sqlx::query("update workflow_instances set status = $2 where id = $1")
                .bind(id)
                .bind(*status)
        }
        ChangeKind::Revived { only_if_failed } => sqlx::query(
            "update workflow_instances set status = 'running', error = null, finished_at = null
             where id = $1 and (not $2 or status = 'failed')",
        )
        .bind(id)
        .bind(*only_if_failed),
        ChangeKind::Finished {
            status,
            output,
            error,
        } => sqlx::query(
            "update workflow_instances set status = $2, output = $3, error = $4, finished_at = $5
             where id = $1",
        )
        .bind(id)
        .bind(*status)
        .bind(output)
        .bind(error)
        .bind(at),
        ChangeKind::Touched => return Ok(()),
        ChangeKind::Step { step, change } => step_query(change, id, step, at),
    };
    query.execute(&mut *connection).await.map_err(unavailable)?;
    Ok(())
}

type PgQuery = sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The update of one step: `$1` instance, `$2` step, `$3` the event's time,
/// then the change's own values.
fn step_query(change: &StepChange, id: Uuid, step: &str, at: DateTime<Utc>) -> PgQuery {
    macro_rules! update {
        ($set:literal) => {
            sqlx::query(concat!(
                "update workflow_steps set ",
                $set,
                " where instance_id = $1 and step = $2 and $3::timestamptz is not null"
            ))
            .bind(id)
            .bind(step.to_owned())
            .bind(at)
        };
    }
    match change {
        StepChange::Scheduled { attempt, waiting } => update!(
            "status = $5, attempt = $4, scheduled_at = $3, started_at = null,
             finished_at = null, worker = null, progress = null"
        )
        .bind(*attempt as i32)
        .bind(if *waiting { "waiting" } else { "scheduled" }),
        StepChange::Started { worker } => {
            update!("status = 'running', started_at = $3, worker = $4").bind(worker.clone())
        }
        StepChange::Completed { attempt, output } => {
            update!("status = 'completed', attempt = $4, finished_at = $3, output = $5")
                .bind(*attempt as i32)
                .bind(output.clone())
        }
        StepChange::Failed { attempt, error } => {
            update!("status = 'failed', attempt = $4, finished_at = $3, last_error = $5")
                .bind(*attempt as i32)
                .bind(error.clone())
        }
        StepChange::RetryScheduled => update!("status = 'waiting'"),
        StepChange::Skipped { output } => {
            update!("status = 'skipped', finished_at = $3, output = $4").bind(output.clone())
        }
        StepChange::RetryRequested => update!("status = 'pending'"),
        StepChange::ApprovalRequested { attempt } => {
            update!("status = 'waiting', attempt = $4, scheduled_at = $3").bind(*attempt as i32)
        }
        StepChange::Compensation(state) => update!("compensation = $4").bind(*state),
    }
}

const WORKFLOW_COLUMNS: &str =
    "id, definition, definition_version, status, input, output, error, started_by,
     current_steps, failed_steps, created_at, updated_at, finished_at";

fn workflow_row(row: &PgRow) -> Result<WorkflowRow, sqlx::Error> {
    let names = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        let value: Value = row.try_get(column)?;
        Ok(serde_json::from_value(value).unwrap_or_default())
    };
    Ok(WorkflowRow {
        id: InstanceId(row.try_get("id")?),
        definition: row.try_get("definition")?,
        version: row.try_get::<i32, _>("definition_version")? as u32,
        status: row.try_get("status")?,
        input: row.try_get("input")?,
        output: row.try_get("output")?,
        error: row.try_get("error")?,
        started_by: row.try_get("started_by")?,
        current_steps: names("current_steps")?,
        failed_steps: names("failed_steps")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn step_row(row: &PgRow) -> Result<StepRow, sqlx::Error> {
    Ok(StepRow {
        step: row.try_get("step")?,
        position: row.try_get::<i32, _>("position")? as u32,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        attempt: row.try_get::<i32, _>("attempt")? as u32,
        scheduled_at: row.try_get("scheduled_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        worker: row.try_get("worker")?,
        last_error: row.try_get("last_error")?,
        output: row.try_get("output")?,
        progress: row
            .try_get::<Option<i16>, _>("progress")?
            .map(|p| p.clamp(0, 100) as u8),
        compensation: row.try_get("compensation")?,
    })
}

fn durations(row: &PgRow) -> Result<DurationStats, sqlx::Error> {
    Ok(DurationStats {
        count: row.try_get::<i64, _>("count")? as u64,
        mean_ms: row.try_get("mean_ms")?,
        p95_ms: row.try_get("p95_ms")?,
    })
}

impl ReadModelQueries for PgReadModels {
    async fn workflow(&self, id: InstanceId) -> Result<Option<WorkflowRow>, Error> {
        let sql = format!("select {WORKFLOW_COLUMNS} from workflow_instances where id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(workflow_row)
            .transpose()
            .map_err(unavailable)
    }

    async fn steps(&self, id: InstanceId) -> Result<Vec<StepRow>, Error> {
        let rows = sqlx::query(
            "select step, position, kind, status, attempt, scheduled_at, started_at, finished_at,
                    worker, last_error, output, progress, compensation
             from workflow_steps where instance_id = $1 order by position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(step_row)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn workflows(&self, filter: &WorkflowFilter) -> Result<Vec<WorkflowRow>, Error> {
        let sql = format!(
            "select {WORKFLOW_COLUMNS} from workflow_instances
             where ($1::text is null or status = $1)
               and ($2::text is null or definition = $2)
               and ($3::timestamptz is null or created_at >= $3)
               and ($4::timestamptz is null or created_at < $4)
               and ($5::uuid is null or id < $5)
             order by id desc limit $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&filter.status)
            .bind(&filter.definition)
            .bind(filter.created_after)
            .bind(filter.created_before)
            .bind(filter.before_id.map(|id| id.0))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(workflow_row)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn status_counts(&self) -> Result<Vec<StatusCount>, Error> {
        let rows = sqlx::query(
            "select definition, status, count(*) as count from workflow_instances
             group by definition, status order by definition, status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(StatusCount {
                    definition: row.try_get("definition")?,
                    status: row.try_get("status")?,
                    count: row.try_get::<i64, _>("count")? as u64,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    async fn definition_durations(&self) -> Result<Vec<DefinitionDurations>, Error> {
        let rows = sqlx::query(
            "select definition, count(*) as count,
                    avg(extract(epoch from finished_at - created_at) * 1000)::float8 as mean_ms,
                    percentile_cont(0.95) within group
                        (order by extract(epoch from finished_at - created_at) * 1000)::float8 as p95_ms
             from workflow_instances where finished_at is not null
             group by definition order by definition",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(DefinitionDurations {
                    definition: row.try_get("definition")?,
                    durations: durations(row)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    async fn step_durations(&self) -> Result<Vec<StepDurations>, Error> {
        let rows = sqlx::query(
            "select i.definition, s.step, count(*) as count,
                    avg(extract(epoch from s.finished_at - s.scheduled_at) * 1000)::float8 as mean_ms,
                    percentile_cont(0.95) within group
                        (order by extract(epoch from s.finished_at - s.scheduled_at) * 1000)::float8 as p95_ms
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where s.status = 'completed' and s.scheduled_at is not null
             group by i.definition, s.step order by i.definition, s.step",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(StepDurations {
                    definition: row.try_get("definition")?,
                    step: row.try_get("step")?,
                    durations: durations(row)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    async fn bottlenecks(&self, limit: u32) -> Result<Vec<Bottleneck>, Error> {
        let rows = sqlx::query(
            "select i.definition, s.step, count(*) as samples,
                    avg(extract(epoch from s.started_at - s.scheduled_at) * 1000)::float8 as waiting,
                    avg(extract(epoch from s.finished_at - s.started_at) * 1000)::float8 as running
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where s.scheduled_at is not null and s.started_at is not null and s.finished_at is not null
             group by i.definition, s.step
             order by avg(extract(epoch from s.finished_at - s.scheduled_at)) desc, i.definition, s.step
             limit $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(Bottleneck {
                    definition: row.try_get("definition")?,
                    step: row.try_get("step")?,
                    samples: row.try_get::<i64, _>("samples")? as u64,
                    mean_waiting_ms: row.try_get("waiting")?,
                    mean_running_ms: row.try_get("running")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }
}

fn stored_definition(row: &PgRow) -> Result<StoredDefinition, sqlx::Error> {
    Ok(StoredDefinition {
        name: row.try_get("name")?,
        version: row.try_get::<i32, _>("version")? as u32,
        hash: row.try_get("hash")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        created_at: row.try_get("created_at")?,
    })
}

impl DefinitionStore for PgReadModels {
    async fn save_definition(&self, definition: &StoredDefinition) -> Result<(), Error> {
        // Inserted, or already there: then its hash must match.
        let hash: String = sqlx::query_scalar(
            "with inserted as (
                 insert into definitions (name, version, hash, description, source, created_at)
                 values ($1, $2, $3, $4, $5, $6) on conflict (name, version) do nothing
                 returning hash
             )
             select hash from inserted
             union all select hash from definitions where name = $1 and version = $2
             limit 1",
        )
        .bind(&definition.name)
        .bind(definition.version as i32)
        .bind(&definition.hash)
        .bind(&definition.description)
        .bind(&definition.source)
        .bind(definition.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        if hash == definition.hash {
            Ok(())
        } else {
            Err(Error::Invalid {
                reason: format!(
                    "{} version {} is already deployed with other content; give the changed definition a new version",
                    definition.name, definition.version
                ),
            })
        }
    }

    async fn definitions(&self) -> Result<Vec<StoredDefinition>, Error> {
        let rows = sqlx::query(
            "select name, version, hash, description, source, created_at from definitions
             order by name, version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(stored_definition)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn definition(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<StoredDefinition>, Error> {
        let row = sqlx::query(
            "select name, version, hash, description, source, created_at from definitions
             where name = $1 and version = $2",
        )
        .bind(name)
        .bind(version as i32)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref()
            .map(stored_definition)
            .transpose()
            .map_err(unavailable)
    }
}

/// Wakes `projector` after every append on any node (`distorch_events`,
/// sent by a trigger on `events`), reconnecting after a lost connection and
/// waking it then, since notifications sent meanwhile are lost.
pub async fn wake_on_appends(pool: PgPool, projector: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen("distorch_events").await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(mut listener) => {
                projector.notify_one();
                while listener.recv().await.is_ok() {
                    projector.notify_one();
                }
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

impl IdempotencyKeys for PgReadModels {
    async fn claim_key(
        &self,
        key: &str,
        instance: InstanceId,
        fingerprint: &str,
    ) -> Result<(InstanceId, String), Error> {
        let row = sqlx::query(
            "with inserted as (
                 insert into idempotency_keys (key, instance_id, fingerprint) values ($1, $2, $3)
                 on conflict (key) do nothing returning instance_id, fingerprint
             )
             select instance_id, fingerprint from inserted
             union all select instance_id, fingerprint from idempotency_keys where key = $1
             limit 1",
        )
        .bind(key)
        .bind(instance.0)
        .bind(fingerprint)
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok((
            InstanceId(row.try_get("instance_id").map_err(unavailable)?),
            row.try_get("fingerprint").map_err(unavailable)?,
        ))
    }

    async fn release_key(&self, key: &str) -> Result<(), Error> {
        sqlx::query("delete from idempotency_keys where key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
