//! The read models on SQLite (embedded mode: one process, so one projector;
//! SQLite's write lock serialises the batch and its checkpoint). Times are
//! RFC 3339 UTC text with microseconds, JSON is text.

use std::collections::BTreeMap;

use application::Error;
use application::ports::{ApplyOutcome, ProjectionBatch, ProjectionWriter};
use application::projection::{Change, ChangeKind, StepChange};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::{SqliteConnection, SqlitePool};

use super::sqlite::Writer;

use super::unavailable;

mod definitions;
mod insights;
mod queries;

const PROJECTION: &str = "read_models";

#[derive(Clone, Debug)]
pub struct SqliteReadModels {
    pool: SqlitePool,
    writer: Writer,
}

impl SqliteReadModels {
    /// On the event store's pool (the same file, migrated with it) and
    /// its writer turn (see `SqliteEventStore::read_models`).
    pub(crate) fn new(pool: SqlitePool, writer: Writer) -> Self {
        Self { pool, writer }
    }
}

pub(super) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn json(value: &Value) -> String {
    value.to_string()
}

impl ProjectionWriter for SqliteReadModels {
    async fn checkpoint(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select position from projection_checkpoints where name = ?1")
            .bind(PROJECTION)
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn oldest_unprojected(&self) -> Result<Option<DateTime<Utc>>, Error> {
        let recorded: Option<String> = sqlx::query_scalar(
            "select recorded_at from events
             where global_position > (select position from projection_checkpoints where name = ?1)
             order by global_position limit 1",
        )
        .bind(PROJECTION)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        recorded
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|time| time.with_timezone(&Utc))
                    .map_err(|error| Error::Unavailable(format!("events.recorded_at: {error}")))
            })
            .transpose()
    }

    async fn log_head(&self) -> Result<i64, Error> {
        sqlx::query_scalar("select coalesce(max(global_position), 0) from events")
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn apply(&self, batch: &ProjectionBatch) -> Result<ApplyOutcome, Error> {
        let _writing = self.writer.lock().await;
        let mut tx = self
            .pool
            .begin_with("begin immediate")
            .await
            .map_err(unavailable)?;
        let position: i64 =
            sqlx::query_scalar("select position from projection_checkpoints where name = ?1")
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
                "update workflow_instances set updated_at = ?2,
                     current_steps = (select json_group_array(step) from (select step
                         from workflow_steps where instance_id = ?1
                         and status in ('scheduled', 'running', 'waiting') order by position)),
                     failed_steps = (select json_group_array(step) from (select step
                         from workflow_steps where instance_id = ?1 and status = 'failed'
                         order by position))
                 where id = ?1",
            )
            .bind(instance.0.to_string())
            .bind(time(at))
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        }
        sqlx::query("update projection_checkpoints set position = ?2 where name = ?1")
            .bind(PROJECTION)
            .bind(batch.through)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(ApplyOutcome::Applied)
    }

    async fn reset(&self) -> Result<(), Error> {
        let _writing = self.writer.lock().await;
        let mut tx = self
            .pool
            .begin_with("begin immediate")
            .await
            .map_err(unavailable)?;
        for statement in [
            "delete from workflow_steps",
            "delete from workflow_instances",
            "update projection_checkpoints set position = 0",
        ] {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn record_progress(
        &self,
        instance: InstanceId,
        step: &str,
        progress: u8,
    ) -> Result<(), Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(
            "update workflow_steps set progress = ?3
             where instance_id = ?1 and step = ?2 and status = 'running'",
        )
        .bind(instance.0.to_string())
        .bind(step)
        .bind(i64::from(progress.min(100)))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

async fn apply_change(connection: &mut SqliteConnection, change: &Change) -> Result<(), Error> {
    let id = change.instance.0.to_string();
    let at = time(change.at);
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
                 values (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?6) on conflict (id) do nothing",
            )
            .bind(&id)
            .bind(definition)
            .bind(i64::from(*version))
            .bind(json(input))
            .bind(started_by)
            .bind(&at)
            .execute(&mut *connection)
            .await
            .map_err(unavailable)?;
            for step in steps {
                sqlx::query(
                    "insert into workflow_steps (instance_id, step, position, kind)
                     values (?1, ?2, ?3, ?4) on conflict do nothing",
                )
                .bind(&id)
                .bind(&step.step)
                .bind(i64::from(step.position))
                .bind(&step.kind)
                .execute(&mut *connection)
                .await
                .map_err(unavailable)?;
            }
            return Ok(());
        }
        ChangeKind::Status(status) => {
            sqlx::query("update workflow_instances set status = ?2 where id = ?1")
                .bind(id)
                .bind(*status)
        }
        ChangeKind::Revived { only_if_failed } => sqlx::query(
            "update workflow_instances set status = 'running', error = null, finished_at = null
             where id = ?1 and (not ?2 or status = 'failed')",
        )
        .bind(id)
        .bind(*only_if_failed),
        ChangeKind::Finished {
            status,
            output,
            error,
        } => sqlx::query(
            "update workflow_instances set status = ?2, output = ?3, error = ?4, finished_at = ?5
             where id = ?1",
        )
        .bind(id)
        .bind(*status)
        .bind(output.as_ref().map(json))
        .bind(error.clone())
        .bind(at),
        ChangeKind::Touched => return Ok(()),
        ChangeKind::Step { step, change } => step_query(change, id, step.clone(), at),
    };
    query.execute(&mut *connection).await.map_err(unavailable)?;
    Ok(())
}

type SqliteQuery = sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// The update of one step: `?1` instance, `?2` step, `?3` the event's time,
/// then the change's own values.
fn step_query(change: &StepChange, id: String, step: String, at: String) -> SqliteQuery {
    macro_rules! update {
        ($set:literal) => {
            sqlx::query(concat!(
                "update workflow_steps set ",
                $set,
                " where instance_id = ?1 and step = ?2 and ?3 is not null"
            ))
            .bind(id)
            .bind(step)
            .bind(at)
        };
    }
    match change {
        StepChange::Scheduled { attempt, waiting } => update!(
            "status = ?5, attempt = ?4, scheduled_at = ?3, started_at = null,
             finished_at = null, worker = null, progress = null"
        )
        .bind(i64::from(*attempt))
        .bind(if *waiting { "waiting" } else { "scheduled" }),
        StepChange::Started { worker } => {
            update!("status = 'running', started_at = ?3, worker = ?4").bind(worker.clone())
        }
        StepChange::Completed { attempt, output } => {
            update!("status = 'completed', attempt = ?4, finished_at = ?3, output = ?5")
                .bind(i64::from(*attempt))
                .bind(json(output))
        }
        StepChange::Failed { attempt, error } => {
            update!("status = 'failed', attempt = ?4, finished_at = ?3, last_error = ?5")
                .bind(i64::from(*attempt))
                .bind(error.clone())
        }
        StepChange::RetryScheduled => update!("status = 'waiting'"),
        StepChange::Skipped { output } => {
            update!("status = 'skipped', finished_at = ?3, output = ?4")
                .bind(output.as_ref().map(json))
        }
        StepChange::RetryRequested => update!("status = 'pending'"),
        StepChange::ApprovalRequested { attempt } => {
            update!("status = 'waiting', attempt = ?4, scheduled_at = ?3").bind(i64::from(*attempt))
        }
        StepChange::Compensation(state) => update!("compensation = ?4").bind(*state),
    }
}
