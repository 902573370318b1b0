//! One row change of the projection as PostgreSQL statements.

use application::Error;
use application::projection::{Change, ChangeKind, StepChange};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::database;

pub(super) async fn apply_change(
    connection: &mut PgConnection,
    change: &Change,
) -> Result<(), Error> {
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
            .map_err(database)?;
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
    query.execute(&mut *connection).await.map_err(database)?;
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
        StepChange::Waiting { attempt } => {
            update!("status = 'waiting', attempt = $4, scheduled_at = $3").bind(*attempt as i32)
        }
        StepChange::Compensation(state) => update!(
            "compensation = $4, compensation_scheduled_at = case when $4 = 'scheduled' \
             then $3 else compensation_scheduled_at end"
        )
        .bind(*state),
    }
}
