//! The console's queries on PostgreSQL (see `application::ports::InsightQueries`).

use application::Error;
use application::ports::{
    InsightQueries, MinuteCount, StepFigureRow, WaitingApprovalRow, WaitingStepRow,
};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use sqlx::Row;
use uuid::Uuid;

use crate::store::database;
use crate::store::insight_rows::{
    MinuteCountColumns, WAITING_STEPS, WaitingApprovalColumns, WaitingStepColumns, activity,
    minute_count, waiting_approvals,
};

use super::PgReadModels;

impl InsightQueries for PgReadModels {
    async fn waiting_approvals(
        &self,
        workflow: Option<InstanceId>,
        limit: u32,
    ) -> Result<Vec<WaitingApprovalRow>, Error> {
        let rows: Vec<WaitingApprovalColumns<Uuid>> =
            sqlx::query_as(sqlx::AssertSqlSafe(waiting_approvals("$1::uuid")))
                .bind(workflow.map(|id| id.0))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database)?;
        Ok(rows.into_iter().map(WaitingApprovalRow::from).collect())
    }

    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<MinuteCount>, Error> {
        let rows: Vec<MinuteCountColumns> =
            sqlx::query_as(sqlx::AssertSqlSafe(activity("date_trunc('minute', {})")))
                .bind(since)
                .fetch_all(&self.pool)
                .await
                .map_err(database)?;
        Ok(rows.into_iter().map(minute_count).collect())
    }

    async fn waiting_steps(&self) -> Result<Vec<WaitingStepRow>, Error> {
        let rows: Vec<WaitingStepColumns> = sqlx::query_as(WAITING_STEPS)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(WaitingStepRow::from).collect())
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
