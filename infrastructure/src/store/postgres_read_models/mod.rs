//! The read models on PostgreSQL: the projection writer (rows and
//! checkpoint in one transaction, under a transaction-level advisory lock so
//! one node projects at a time), the queries of the API and the stored
//! definitions.

use std::collections::BTreeMap;

use application::Error;
use application::ports::{ApplyOutcome, ProjectionBatch, ProjectionWriter};
use application::projection::{Change, ChangeKind, StepChange};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::unavailable;

mod definitions;
mod queries;

/// The advisory lock that makes one node at a time the projector.
const PROJECTION_LOCK: i64 = i64::from_be_bytes(*b"distorch");
const PROJECTION: &str = "read_models";

/// When the first event the projection has not written was recorded.
pub(super) const OLDEST_UNPROJECTED: &str = "select recorded_at from events
    where global_position > (select position from projection_checkpoints where name = $1)
    order by global_position limit 1";

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
        sqlx::query_scalar(OLDEST_UNPROJECTED)
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
