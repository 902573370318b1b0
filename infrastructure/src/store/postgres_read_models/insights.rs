//! The console's queries on PostgreSQL (see `application::ports::InsightQueries`).

use application::Error;
use application::ports::{
    InsightQueries, MinuteCount, StepFigureRow, WaitingApprovalRow, WaitingStepRow,
};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use sqlx::Row;

use crate::store::database;

use super::PgReadModels;

impl InsightQueries for PgReadModels {
    async fn waiting_approvals(
        &self,
        workflow: Option<InstanceId>,
        limit: u32,
    ) -> Result<Vec<WaitingApprovalRow>, Error> {
        let rows = sqlx::query(
            "select i.id, i.definition, i.definition_version, i.status, i.input,
                    s.step, s.attempt, s.scheduled_at
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where s.kind = 'approval' and s.status = 'waiting'
               and i.status in ('running', 'paused')
               and ($1::uuid is null or i.id = $1)
             order by s.scheduled_at, i.id, s.step limit $2",
        )
        .bind(workflow.map(|id| id.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(WaitingApprovalRow {
                    instance: InstanceId(row.try_get("id")?),
                    definition: row.try_get("definition")?,
                    version: row.try_get::<i32, _>("definition_version")? as u32,
                    status: row.try_get("status")?,
                    input: row.try_get("input")?,
                    step: row.try_get("step")?,
                    attempt: row.try_get::<i32, _>("attempt")? as u32,
                    requested_at: row.try_get("scheduled_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<MinuteCount>, Error> {
        let rows = sqlx::query(
            "select date_trunc('minute', created_at) as minute, 'started' as what, count(*) as count
             from workflow_instances where created_at >= $1 group by 1
             union all
             select date_trunc('minute', finished_at), status, count(*)
             from workflow_instances where finished_at >= $1 group by 1, 2
             order by 1, 2",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(MinuteCount {
                    minute: row.try_get("minute")?,
                    what: row.try_get("what")?,
                    count: row.try_get::<i64, _>("count")? as u64,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    async fn waiting_steps(&self) -> Result<Vec<WaitingStepRow>, Error> {
        let rows = sqlx::query(
            "select i.definition, i.definition_version, s.step, count(*) as count,
                    min(s.scheduled_at) as oldest
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where s.status = 'scheduled' and s.kind in ('task', 'http')
               and s.scheduled_at is not null
             group by 1, 2, 3 order by 5",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(WaitingStepRow {
                    definition: row.try_get("definition")?,
                    version: row.try_get::<i32, _>("definition_version")? as u32,
                    step: row.try_get("step")?,
                    count: row.try_get::<i64, _>("count")? as u64,
                    oldest: row.try_get("oldest")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    async fn step_figures(&self, definition: &str) -> Result<Vec<StepFigureRow>, Error> {
        let rows = sqlx::query(
            "select s.step,
                    count(*) filter (where s.status = 'completed') as completed,
                    count(*) filter (where s.status = 'failed') as failed,
                    count(*) filter (where s.status = 'skipped') as skipped,
                    percentile_disc(0.5) within group (order by (extract(epoch from s.finished_at - s.scheduled_at) * 1000)::float8)
                        filter (where s.status = 'completed' and s.scheduled_at is not null) as p50,
                    percentile_disc(0.95) within group (order by (extract(epoch from s.finished_at - s.scheduled_at) * 1000)::float8)
                        filter (where s.status = 'completed' and s.scheduled_at is not null) as p95
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where i.definition = $1 and s.status in ('completed', 'failed', 'skipped')
             group by s.step order by s.step",
        )
        .bind(definition)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(StepFigureRow {
                    step: row.try_get("step")?,
                    completed: row.try_get::<i64, _>("completed")? as u64,
                    failed: row.try_get::<i64, _>("failed")? as u64,
                    skipped: row.try_get::<i64, _>("skipped")? as u64,
                    p50_ms: row.try_get("p50")?,
                    p95_ms: row.try_get("p95")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }
}
