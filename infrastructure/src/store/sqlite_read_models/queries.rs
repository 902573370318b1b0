//! The read models' queries for the API (SQLite).

use std::collections::BTreeMap;

use application::Error;
use application::ports::{
    Bottleneck, DefinitionDurations, DurationStats, ReadModelQueries, StatusCount, StepDurations,
    StepRow, WorkflowFilter, WorkflowRow,
};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::store::unavailable;

use super::{SqliteReadModels, time};

const WORKFLOW_COLUMNS: &str =
    "id, definition, definition_version, status, input, output, error, started_by,
     current_steps, failed_steps, created_at, updated_at, finished_at";

pub(super) fn parse_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.to_utc())
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))
    })
    .transpose()
}

pub(super) fn parse_json(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    text.map(|text| {
        serde_json::from_str(&text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
    })
    .transpose()
}

pub(super) fn required<T>(value: Option<T>, column: &str) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_owned()))
}

fn workflow_row(row: &SqliteRow) -> Result<WorkflowRow, sqlx::Error> {
    let names = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        let value = parse_json(row.try_get(column)?)?.unwrap_or_default();
        Ok(serde_json::from_value(value).unwrap_or_default())
    };
    let id: String = row.try_get("id")?;
    Ok(WorkflowRow {
        id: InstanceId(Uuid::parse_str(&id).map_err(|error| sqlx::Error::Decode(Box::new(error)))?),
        definition: row.try_get("definition")?,
        version: row.try_get::<i64, _>("definition_version")? as u32,
        status: row.try_get("status")?,
        input: parse_json(row.try_get("input")?)?.unwrap_or_default(),
        output: parse_json(row.try_get("output")?)?,
        error: row.try_get("error")?,
        started_by: row.try_get("started_by")?,
        current_steps: names("current_steps")?,
        failed_steps: names("failed_steps")?,
        created_at: required(parse_time(row.try_get("created_at")?)?, "created_at")?,
        updated_at: required(parse_time(row.try_get("updated_at")?)?, "updated_at")?,
        finished_at: parse_time(row.try_get("finished_at")?)?,
    })
}

fn step_row(row: &SqliteRow) -> Result<StepRow, sqlx::Error> {
    Ok(StepRow {
        step: row.try_get("step")?,
        position: row.try_get::<i64, _>("position")? as u32,
        kind: row.try_get("kind")?,
        status: row.try_get("status")?,
        attempt: row.try_get::<i64, _>("attempt")? as u32,
        scheduled_at: parse_time(row.try_get("scheduled_at")?)?,
        started_at: parse_time(row.try_get("started_at")?)?,
        finished_at: parse_time(row.try_get("finished_at")?)?,
        worker: row.try_get("worker")?,
        last_error: row.try_get("last_error")?,
        output: parse_json(row.try_get("output")?)?,
        progress: row
            .try_get::<Option<i64>, _>("progress")?
            .map(|p| p.clamp(0, 100) as u8),
        compensation: row.try_get("compensation")?,
    })
}

/// Mean and 95th percentile (nearest rank) of durations in milliseconds.
fn summarise(mut samples: Vec<f64>) -> DurationStats {
    if samples.is_empty() {
        return DurationStats::default();
    }
    samples.sort_by(f64::total_cmp);
    let count = samples.len();
    let rank = ((count as f64) * 0.95).ceil() as usize;
    DurationStats {
        count: count as u64,
        mean_ms: Some(samples.iter().sum::<f64>() / count as f64),
        p95_ms: Some(samples[rank.clamp(1, count) - 1]),
    }
}

/// Milliseconds between two RFC 3339 columns, in SQL.
macro_rules! millis {
    ($from:literal, $to:literal) => {
        concat!(
            "(julianday(",
            $to,
            ") - julianday(",
            $from,
            ")) * 86400000.0"
        )
    };
}

impl SqliteReadModels {
    /// `(group, step, milliseconds)` rows grouped into durations per key.
    async fn grouped(
        &self,
        sql: &'static str,
    ) -> Result<BTreeMap<(String, String), Vec<f64>>, Error> {
        let rows = sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut groups: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        for row in &rows {
            let key: (String, String) = (
                row.try_get(0).map_err(unavailable)?,
                row.try_get(1).map_err(unavailable)?,
            );
            let millis: f64 = row.try_get(2).map_err(unavailable)?;
            groups.entry(key).or_default().push(millis);
        }
        Ok(groups)
    }
}

impl ReadModelQueries for SqliteReadModels {
    async fn workflow(&self, id: InstanceId) -> Result<Option<WorkflowRow>, Error> {
        let sql = format!("select {WORKFLOW_COLUMNS} from workflow_instances where id = ?1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0.to_string())
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
             from workflow_steps where instance_id = ?1 order by position",
        )
        .bind(id.0.to_string())
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
             where (?1 is null or status = ?1)
               and (?2 is null or definition = ?2)
               and (?3 is null or created_at >= ?3)
               and (?4 is null or created_at < ?4)
               and (?5 is null or id < ?5)
             order by id desc limit ?6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&filter.status)
            .bind(&filter.definition)
            .bind(filter.created_after.map(time))
            .bind(filter.created_before.map(time))
            .bind(filter.before_id.map(|id| id.0.to_string()))
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
        let groups = self
            .grouped(concat!(
                "select definition, '', ",
                millis!("created_at", "finished_at"),
                " from workflow_instances where finished_at is not null"
            ))
            .await?;
        Ok(groups
            .into_iter()
            .map(|((definition, _), samples)| DefinitionDurations {
                definition,
                durations: summarise(samples),
            })
            .collect())
    }

    async fn step_durations(&self) -> Result<Vec<StepDurations>, Error> {
        let groups = self
            .grouped(concat!(
                "select i.definition, s.step, ",
                millis!("s.scheduled_at", "s.finished_at"),
                " from workflow_steps s join workflow_instances i on i.id = s.instance_id
                  where s.status = 'completed' and s.scheduled_at is not null"
            ))
            .await?;
        Ok(groups
            .into_iter()
            .map(|((definition, step), samples)| StepDurations {
                definition,
                step,
                durations: summarise(samples),
            })
            .collect())
    }

    async fn bottlenecks(&self, limit: u32) -> Result<Vec<Bottleneck>, Error> {
        let sql = concat!(
            "select i.definition, s.step, count(*) as samples, avg(",
            millis!("s.scheduled_at", "s.started_at"),
            ") as waiting, avg(",
            millis!("s.started_at", "s.finished_at"),
            ") as running
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where s.scheduled_at is not null and s.started_at is not null and s.finished_at is not null
             group by i.definition, s.step
             order by avg(",
            millis!("s.scheduled_at", "s.finished_at"),
            ") desc, i.definition, s.step limit ?1"
        );
        let rows = sqlx::query(sql)
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
