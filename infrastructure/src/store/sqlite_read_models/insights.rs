//! The console's queries on SQLite (see `application::ports::InsightQueries`).
//! Times are RFC 3339 text, so a minute is the text's first 16 characters,
//! and percentiles are taken in Rust (SQLite has no percentile function).

use std::collections::BTreeMap;

use application::Error;
use application::ports::{
    InsightQueries, MinuteCount, StepFigureRow, WaitingApprovalRow, WaitingStepRow,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use domain::InstanceId;
use sqlx::Row;
use uuid::Uuid;

use crate::store::database;

use super::queries::{parse_json, parse_time, required};
use super::{SqliteReadModels, time};

fn decode<E: std::error::Error + Send + Sync + 'static>(error: E) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}

/// `YYYY-MM-DDTHH:MM` as the start of that minute.
fn minute(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .map(|at| at.and_utc())
        .map_err(decode)
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
    (!sorted.is_empty()).then(|| sorted[rank.clamp(1, sorted.len()) - 1])
}

impl InsightQueries for SqliteReadModels {
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
               and (?1 is null or i.id = ?1)
             order by s.scheduled_at, i.id, s.step limit ?2",
        )
        .bind(workflow.map(|id| id.0.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                Ok(WaitingApprovalRow {
                    instance: InstanceId(Uuid::parse_str(&id).map_err(decode)?),
                    definition: row.try_get("definition")?,
                    version: row.try_get::<i64, _>("definition_version")? as u32,
                    status: row.try_get("status")?,
                    input: parse_json(row.try_get("input")?)?.unwrap_or_default(),
                    step: row.try_get("step")?,
                    attempt: row.try_get::<i64, _>("attempt")? as u32,
                    requested_at: parse_time(row.try_get("scheduled_at")?)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<MinuteCount>, Error> {
        let rows = sqlx::query(
            "select substr(created_at, 1, 16) as minute, 'started' as what, count(*) as count
             from workflow_instances where created_at >= ?1 group by 1
             union all
             select substr(finished_at, 1, 16), status, count(*)
             from workflow_instances where finished_at >= ?1 group by 1, 2
             order by 1, 2",
        )
        .bind(time(since))
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                Ok(MinuteCount {
                    minute: minute(&row.try_get::<String, _>("minute")?)?,
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
                    version: row.try_get::<i64, _>("definition_version")? as u32,
                    step: row.try_get("step")?,
                    count: row.try_get::<i64, _>("count")? as u64,
                    oldest: required(parse_time(row.try_get("oldest")?)?, "oldest")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    async fn step_figures(&self, definition: &str) -> Result<Vec<StepFigureRow>, Error> {
        let rows = sqlx::query(
            "select s.step, s.status,
                    (julianday(s.finished_at) - julianday(s.scheduled_at)) * 86400000.0 as millis
             from workflow_steps s join workflow_instances i on i.id = s.instance_id
             where i.definition = ?1 and s.status in ('completed', 'failed', 'skipped')",
        )
        .bind(definition)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        let mut steps: BTreeMap<String, (StepFigureRow, Vec<f64>)> = BTreeMap::new();
        for row in &rows {
            let step: String = row.try_get("step").map_err(database)?;
            let status: String = row.try_get("status").map_err(database)?;
            let millis: Option<f64> = row.try_get("millis").map_err(database)?;
            let (figures, samples) = steps.entry(step.clone()).or_insert_with(|| {
                let figures = StepFigureRow {
                    step,
                    ..StepFigureRow::default()
                };
                (figures, Vec::new())
            });
            match status.as_str() {
                "completed" => {
                    figures.completed += 1;
                    samples.extend(millis);
                }
                "failed" => figures.failed += 1,
                _ => figures.skipped += 1,
            }
        }
        Ok(steps
            .into_values()
            .map(|(mut figures, mut samples)| {
                samples.sort_by(f64::total_cmp);
                figures.p50_ms = percentile(&samples, 0.5);
                figures.p95_ms = percentile(&samples, 0.95);
                figures
            })
            .collect())
    }
}
