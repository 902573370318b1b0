//! The read models' queries for the API (SQLite).

use std::collections::BTreeMap;

use application::Error;
use application::ports::{
    Bottleneck, DefinitionDurations, DurationStats, ReadModelQueries, StatusCount, StepDurations,
    StepRow, WorkflowFilter, WorkflowRow,
};
use domain::InstanceId;
use sqlx::Row;
use uuid::fmt::Hyphenated;

use crate::store::database;
use crate::store::read_model_rows::{
    BottleneckColumns, STATUS_COUNTS, STEPS, StatusCountColumns, StepColumns, WORKFLOW_COLUMNS,
    WorkflowColumns, status_count,
};

use super::{SqliteReadModels, time};

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
            .map_err(database)?;
        let mut groups: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        for row in &rows {
            let key: (String, String) = (
                row.try_get(0).map_err(database)?,
                row.try_get(1).map_err(database)?,
            );
            let millis: f64 = row.try_get(2).map_err(database)?;
            groups.entry(key).or_default().push(millis);
        }
        Ok(groups)
    }
}

impl ReadModelQueries for SqliteReadModels {
    async fn workflow(&self, id: InstanceId) -> Result<Option<WorkflowRow>, Error> {
        let sql = format!("select {WORKFLOW_COLUMNS} from workflow_instances where id = ?1");
        let row: Option<WorkflowColumns<Hyphenated>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        Ok(row.map(WorkflowRow::from))
    }

    async fn steps(&self, id: InstanceId) -> Result<Vec<StepRow>, Error> {
        let rows: Vec<StepColumns> = sqlx::query_as(STEPS)
            .bind(id.0.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(StepRow::from).collect())
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
        let rows: Vec<WorkflowColumns<Hyphenated>> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&filter.status)
            .bind(&filter.definition)
            .bind(filter.created_after.map(time))
            .bind(filter.created_before.map(time))
            .bind(filter.before_id.map(|id| id.0.to_string()))
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
        let rows: Vec<BottleneckColumns> = sqlx::query_as(sql)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(Bottleneck::from).collect())
    }
}
