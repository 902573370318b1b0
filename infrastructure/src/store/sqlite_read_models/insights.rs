//! The console's queries on SQLite (see `application::ports::InsightQueries`).
//! Times are RFC 3339 text, so a minute is the text's first 16 characters,
//! and percentiles are taken in Rust (SQLite has no percentile function).

use std::collections::BTreeMap;

use application::Error;
use application::ports::{
    InsightQueries, MinuteCount, StepFigureRow, WaitingApprovalRow, WaitingStepRow,
};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use sqlx::Row;
use uuid::fmt::Hyphenated;

use crate::store::database;
use crate::store::insight_rows::{
    MinuteCountColumns, WAITING_STEPS, WaitingApprovalColumns, WaitingStepColumns, activity,
    minute_count, waiting_approvals,
};

use super::{SqliteReadModels, time};

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
        let rows: Vec<WaitingApprovalColumns<Hyphenated>> =
            sqlx::query_as(sqlx::AssertSqlSafe(waiting_approvals("$1")))
                .bind(workflow.map(|id| id.0.to_string()))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(database)?;
        Ok(rows.into_iter().map(WaitingApprovalRow::from).collect())
    }

    async fn activity(&self, since: DateTime<Utc>) -> Result<Vec<MinuteCount>, Error> {
        let rows: Vec<MinuteCountColumns> =
            sqlx::query_as(sqlx::AssertSqlSafe(activity("substr({}, 1, 16) || ':00Z'")))
                .bind(time(since))
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
