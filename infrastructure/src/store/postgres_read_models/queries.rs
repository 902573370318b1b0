//! The read models' queries for the API (PostgreSQL).

use application::Error;
use application::ports::{
    Bottleneck, DefinitionDurations, DurationStats, ReadModelQueries, StatusCount, StepDurations,
    StepRow, WorkflowFilter, WorkflowRow,
};
use domain::InstanceId;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::store::database;

use super::PgReadModels;

const WORKFLOW_COLUMNS: &str =
    "id, definition, definition_version, status, input, output, error, started_by,
     current_steps, failed_steps, created_at, updated_at, finished_at";

fn workflow_row(row: &PgRow) -> Result<WorkflowRow, sqlx::Error> {
    let names = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        let value: Value = row.try_get(column)?;
        serde_json::from_value(value).map_err(|error| sqlx::Error::Decode(Box::new(error)))
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
            .map_err(database)?;
        row.as_ref().map(workflow_row).transpose().map_err(database)
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
        .map_err(database)?;
        rows.iter()
            .map(step_row)
            .collect::<Result<_, _>>()
            .map_err(database)
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
            .map_err(database)?;
        rows.iter()
            .map(workflow_row)
            .collect::<Result<_, _>>()
            .map_err(database)
    }

    async fn status_counts(&self) -> Result<Vec<StatusCount>, Error> {
        let rows = sqlx::query(
            "select definition, status, count(*) as count from workflow_instances
             group by definition, status order by definition, status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(StatusCount {
                    definition: row.try_get("definition")?,
                    status: row.try_get("status")?,
                    count: row.try_get::<i64, _>("count")? as u64,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
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
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(DefinitionDurations {
                    definition: row.try_get("definition")?,
                    durations: durations(row)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
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
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(StepDurations {
                    definition: row.try_get("definition")?,
                    step: row.try_get("step")?,
                    durations: durations(row)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
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
        .map_err(database)?;
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
            .map_err(database)
    }
}
