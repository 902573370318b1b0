//! The read models' rows as both stores return them, read into the
//! application's rows once: sqlx reads SQLite's RFC 3339 and JSON text as it
//! reads PostgreSQL's `timestamptz` and `jsonb`. Only an id differs (a
//! `uuid` in PostgreSQL, text in SQLite), hence the id's type parameter.

use application::ports::{Bottleneck, StatusCount, StepRow, StoredDefinition, WorkflowRow};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// The columns of [`WorkflowColumns`].
pub(super) const WORKFLOW_COLUMNS: &str =
    "id, definition, definition_version, status, input, output, error, started_by,
     current_steps, failed_steps, created_at, updated_at, finished_at";

/// The steps of a workflow (`$1`), in their order.
pub(super) const STEPS: &str =
    "select step, position, kind, status, attempt, scheduled_at, started_at, finished_at,
            worker, last_error, output, progress, compensation
     from workflow_steps where instance_id = $1 order by position";

/// How many workflows of each definition are in each status.
pub(super) const STATUS_COUNTS: &str =
    "select definition, status, count(*) as count from workflow_instances
     group by definition, status order by definition, status";

#[derive(sqlx::FromRow)]
pub(super) struct WorkflowColumns<Id> {
    id: Id,
    definition: String,
    definition_version: i32,
    status: String,
    input: Json<Value>,
    output: Option<Json<Value>>,
    error: Option<String>,
    started_by: String,
    current_steps: Json<Vec<String>>,
    failed_steps: Json<Vec<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl<Id: Into<Uuid>> From<WorkflowColumns<Id>> for WorkflowRow {
    fn from(row: WorkflowColumns<Id>) -> Self {
        WorkflowRow {
            id: InstanceId(row.id.into()),
            definition: row.definition,
            version: row.definition_version as u32,
            status: row.status,
            input: row.input.0,
            output: row.output.map(|output| output.0),
            error: row.error,
            started_by: row.started_by,
            current_steps: row.current_steps.0,
            failed_steps: row.failed_steps.0,
            created_at: row.created_at,
            updated_at: row.updated_at,
            finished_at: row.finished_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct StepColumns {
    step: String,
    position: i32,
    kind: String,
    status: String,
    attempt: i32,
    scheduled_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    worker: Option<String>,
    last_error: Option<String>,
    output: Option<Json<Value>>,
    progress: Option<i16>,
    compensation: Option<String>,
}

impl From<StepColumns> for StepRow {
    fn from(row: StepColumns) -> Self {
        StepRow {
            step: row.step,
            position: row.position as u32,
            kind: row.kind,
            status: row.status,
            attempt: row.attempt as u32,
            scheduled_at: row.scheduled_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            worker: row.worker,
            last_error: row.last_error,
            output: row.output.map(|output| output.0),
            progress: row.progress.map(|progress| progress.clamp(0, 100) as u8),
            compensation: row.compensation,
        }
    }
}

/// A row of [`STATUS_COUNTS`]: definition, status, count.
pub(super) type StatusCountColumns = (String, String, i64);

pub(super) fn status_count((definition, status, count): StatusCountColumns) -> StatusCount {
    StatusCount {
        definition,
        status,
        count: count as u64,
    }
}

/// A bottleneck: its step, `samples`, and the mean milliseconds `waiting`
/// (scheduled to started) and `running` (started to finished).
#[derive(sqlx::FromRow)]
pub(super) struct BottleneckColumns {
    definition: String,
    step: String,
    samples: i64,
    waiting: f64,
    running: f64,
}

impl From<BottleneckColumns> for Bottleneck {
    fn from(row: BottleneckColumns) -> Self {
        Bottleneck {
            definition: row.definition,
            step: row.step,
            samples: row.samples as u64,
            mean_waiting_ms: row.waiting,
            mean_running_ms: row.running,
        }
    }
}

/// The columns of [`DefinitionColumns`], from `definitions`.
pub(super) const DEFINITIONS: &str =
    "select name, version, hash, description, source, created_at from definitions";

#[derive(sqlx::FromRow)]
pub(super) struct DefinitionColumns {
    name: String,
    version: i32,
    hash: String,
    description: Option<String>,
    source: String,
    created_at: DateTime<Utc>,
}

impl From<DefinitionColumns> for StoredDefinition {
    fn from(row: DefinitionColumns) -> Self {
        StoredDefinition {
            name: row.name,
            version: row.version as u32,
            hash: row.hash,
            description: row.description,
            source: row.source,
            created_at: row.created_at,
        }
    }
}
