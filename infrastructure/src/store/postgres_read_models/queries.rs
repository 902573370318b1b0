//! The read models' queries for the API (PostgreSQL).

use application::Error;
use application::ports::{
    Bottleneck, DefinitionDurations, DurationStats, ReadModelQueries, StatusCount, StepDurations,
    StepRow, WorkflowFilter, WorkflowRow,
};
use domain::InstanceId;
use uuid::Uuid;

use crate::store::database;
use crate::store::read_model_rows::{
    BottleneckColumns, STATUS_COUNTS, STEPS, StatusCountColumns, StepColumns, WORKFLOW_COLUMNS,
    WorkflowColumns, status_count,
};

use super::PgReadModels;

/// Count, mean and 95th percentile of durations in milliseconds, as the
/// duration queries select them.
type Durations = (i64, Option<f64>, Option<f64>);

/// A row of the durations per step: definition, step, then [`Durations`].
type StepDurationColumns = (String, String, i64, Option<f64>, Option<f64>);

fn stats((count, mean_ms, p95_ms): Durations) -> DurationStats {
    DurationStats {
        count: count as u64,
        mean_ms,
        p95_ms,
    }
}

impl ReadModelQueries for PgReadModels {
    async fn workflow(&self, id: InstanceId) -> Result<Option<WorkflowRow>, Error> {
        let sql = format!("select {WORKFLOW_COLUMNS} from workflow_instances where id = $1");
        let row: Option<WorkflowColumns<Uuid>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        Ok(row.map(WorkflowRow::from))
    }

    async fn steps(&self, id: InstanceId) -> Result<Vec<StepRow>, Error> {
        let rows: Vec<StepColumns> = sqlx::query_as(STEPS)
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(StepRow::from).collect())
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
        let rows: Vec<WorkflowColumns<Uuid>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&filter.status)
            .bind(&filter.definition)
            .bind(filter.created_after)
            .bind(filter.created_before)
            .bind(filter.before_id.map(|id| id.0))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(WorkflowRow::from).collect())
    }

    async fn status_counts(&self) -> Result<Vec<StatusCount>, Error> {
        let rows: Vec<StatusCountColumns> = sqlx::query_as(STATUS_COUNTS)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(status_count).collect())
    }

    async fn definition_durations(&self) -> Result<Vec<DefinitionDurations>, Error> {
        let rows: Vec<(String, i64, Option<f64>, Option<f64>)> = sqlx::query_as(
            "select definition, count(*) as count,
                    avg(extract(epoch from finished_at - created_at) * 1000)::float8 as mean_ms,
                    percentile_cont(0.95) within group
                        (order by extract(epoch from finished_at - created_at) * 1000)::float8 as p95_ms
             from workflow_instances where finished_at is not null
             group by definition order by definition",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        Ok(rows
            .into_iter()
            .map(|(definition, count, mean, p95)| DefinitionDurations {
                definition,
                durations: stats((count, mean, p95)),
            })
            .collect())
    }

    async fn step_durations(&self) -> Result<Vec<StepDurations>, Error> {
        let rows: Vec<StepDurationColumns> = sqlx::query_as(
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
        .map_err(database)?;
        Ok(rows
            .into_iter()
            .map(|(definition, step, count, mean, p95)| StepDurations {
                definition,
                step,
                durations: stats((count, mean, p95)),
            })
            .collect())
    }

    async fn bottlenecks(&self, limit: u32) -> Result<Vec<Bottleneck>, Error> {
        let rows: Vec<BottleneckColumns> = sqlx::query_as(
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
        .map_err(database)?;
        Ok(rows.into_iter().map(Bottleneck::from).collect())
    }
}
