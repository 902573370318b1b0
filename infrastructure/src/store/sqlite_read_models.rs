//! The read models on SQLite (embedded mode: one process, so one projector;
//! SQLite's write lock serialises the batch and its checkpoint). Times are
//! RFC 3339 UTC text with microseconds, JSON is text.

use std::collections::BTreeMap;

use application::Error;
use application::ports::{
    ApplyOutcome, Bottleneck, DefinitionDurations, DefinitionStore, DurationStats, IdempotencyKeys,
    ProjectionBatch, ProjectionWriter, ReadModelQueries, StatusCount, StepDurations, StepRow,
    StoredDefinition, WorkflowFilter, WorkflowRow,
};
use application::projection::{Change, ChangeKind, StepChange};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};
use uuid::Uuid;

use super::unavailable;

const PROJECTION: &str = "read_models";

#[derive(Clone, Debug)]
pub struct SqliteReadModels {
    pool: SqlitePool,
}

impl SqliteReadModels {
    /// On the event store's pool (the same file, migrated with it).
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn time(at: DateTime<Utc>) -> String {
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

const WORKFLOW_COLUMNS: &str =
    "id, definition, definition_version, status, input, output, error, started_by,
     current_steps, failed_steps, created_at, updated_at, finished_at";

fn parse_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.to_utc())
            .map_err(|error| sqlx::Error::Decode(Box::new(error)))
    })
    .transpose()
}

fn parse_json(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    text.map(|text| {
        serde_json::from_str(&text).map_err(|error| sqlx::Error::Decode(Box::new(error)))
    })
    .transpose()
}

fn required<T>(value: Option<T>, column: &str) -> Result<T, sqlx::Error> {
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

fn stored_definition(row: &SqliteRow) -> Result<StoredDefinition, sqlx::Error> {
    Ok(StoredDefinition {
        name: row.try_get("name")?,
        version: row.try_get::<i64, _>("version")? as u32,
        hash: row.try_get("hash")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        created_at: required(parse_time(row.try_get("created_at")?)?, "created_at")?,
    })
}

impl DefinitionStore for SqliteReadModels {
    async fn save_definition(&self, definition: &StoredDefinition) -> Result<(), Error> {
        sqlx::query(
            "insert into definitions (name, version, hash, description, source, created_at)
             values (?1, ?2, ?3, ?4, ?5, ?6) on conflict (name, version) do nothing",
        )
        .bind(&definition.name)
        .bind(i64::from(definition.version))
        .bind(&definition.hash)
        .bind(&definition.description)
        .bind(&definition.source)
        .bind(time(definition.created_at))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        let hash: String =
            sqlx::query_scalar("select hash from definitions where name = ?1 and version = ?2")
                .bind(&definition.name)
                .bind(i64::from(definition.version))
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        if hash == definition.hash {
            Ok(())
        } else {
            Err(Error::Invalid {
                reason: format!(
                    "{} version {} is already deployed with other content; give the changed definition a new version",
                    definition.name, definition.version
                ),
            })
        }
    }

    async fn definitions(&self) -> Result<Vec<StoredDefinition>, Error> {
        let rows = sqlx::query(
            "select name, version, hash, description, source, created_at from definitions
             order by name, version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(stored_definition)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn definition(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<StoredDefinition>, Error> {
        let row = sqlx::query(
            "select name, version, hash, description, source, created_at from definitions
             where name = ?1 and version = ?2",
        )
        .bind(name)
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref()
            .map(stored_definition)
            .transpose()
            .map_err(unavailable)
    }
}

impl IdempotencyKeys for SqliteReadModels {
    async fn claim_key(
        &self,
        key: &str,
        instance: InstanceId,
        fingerprint: &str,
    ) -> Result<(InstanceId, String), Error> {
        sqlx::query(
            "insert into idempotency_keys (key, instance_id, fingerprint, created_at)
             values (?1, ?2, ?3, ?4) on conflict (key) do nothing",
        )
        .bind(key)
        .bind(instance.0.to_string())
        .bind(fingerprint)
        .bind(time(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        let row =
            sqlx::query("select instance_id, fingerprint from idempotency_keys where key = ?1")
                .bind(key)
                .fetch_one(&self.pool)
                .await
                .map_err(unavailable)?;
        let id: String = row.try_get("instance_id").map_err(unavailable)?;
        Ok((
            InstanceId(
                Uuid::parse_str(&id).map_err(|error| Error::Unavailable(error.to_string()))?,
            ),
            row.try_get("fingerprint").map_err(unavailable)?,
        ))
    }

    async fn release_key(&self, key: &str) -> Result<(), Error> {
        sqlx::query("delete from idempotency_keys where key = ?1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
