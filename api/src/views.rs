//! What the workflow and task routes answer: typed bodies, so the OpenAPI
//! document is derived from the very types the handlers serialise.

use application::ports::{RecordedEvent, StepRow, WorkflowRow};
use chrono::{DateTime, Utc};
use domain::instance::WorkflowInstance;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A workflow instance. From the read model it carries every field; straight
/// after a command (or a start not projected yet) it is the engine's state,
/// without the read model's timestamps and lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Workflow {
    pub id: Uuid,
    pub definition: String,
    pub version: u32,
    /// `running`, `paused`, `compensating`, `completed`, `failed`,
    /// `compensated`, `compensation_failed` or `cancelled`.
    pub status: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    /// Steps scheduled, running or waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_steps: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_steps: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Its steps, in the definition's order (not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
}

impl Workflow {
    /// From the read model; with its steps when given.
    pub fn projected(row: &WorkflowRow, steps: Option<&[StepRow]>) -> Self {
        Self {
            id: row.id.0,
            definition: row.definition.clone(),
            version: row.version,
            status: row.status.clone(),
            input: row.input.clone(),
            output: row.output.clone(),
            error: row.error.clone(),
            started_by: Some(row.started_by.clone()),
            current_steps: Some(row.current_steps.clone()),
            failed_steps: Some(row.failed_steps.clone()),
            created_at: Some(row.created_at),
            updated_at: Some(row.updated_at),
            finished_at: row.finished_at,
            steps: steps.map(|steps| steps.iter().map(Step::projected).collect()),
        }
    }

    /// The engine's state (the read models catch up shortly).
    pub fn current(state: &WorkflowInstance) -> Self {
        let steps = state
            .definition
            .steps
            .iter()
            .zip(&state.steps)
            .map(|(definition, step)| Step {
                id: definition.id.as_str().to_owned(),
                kind: definition.kind.name().to_owned(),
                status: step.status().as_str().to_owned(),
                attempt: step.attempt,
                output: step.output().cloned(),
                error: step.error_message().map(str::to_owned),
                ..Step::default()
            })
            .collect();
        Self {
            id: state.id.0,
            definition: state.definition.name.clone(),
            version: state.definition.version,
            status: state.status.as_str().to_owned(),
            input: state.input.as_ref().clone(),
            output: state.output.clone(),
            error: state.error.clone(),
            started_by: None,
            current_steps: None,
            failed_steps: None,
            created_at: None,
            updated_at: None,
            finished_at: None,
            steps: Some(steps),
        }
    }
}

/// A step of a workflow instance.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Step {
    pub id: String,
    /// The step type: `task`, `http`, `approval`, `wait`, `noop`, `fail`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `scheduled`, `running`, `waiting`, `completed`, `failed`
    /// or `skipped`.
    pub status: String,
    pub attempt: u32,
    pub output: Option<Value>,
    /// The error of a failed step.
    pub error: Option<String>,
    /// The last attempt's error, also once a retry succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// 0 to 100, as the worker's heartbeats reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<u8>,
    /// Where its compensation stands, once one was scheduled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Step {
    pub fn projected(step: &StepRow) -> Self {
        Self {
            id: step.step.clone(),
            kind: step.kind.clone(),
            status: step.status.clone(),
            attempt: step.attempt,
            output: step.output.clone(),
            error: step.error().map(str::to_owned),
            last_error: step.last_error.clone(),
            worker: step.worker.clone(),
            progress: step.progress,
            compensation: step.compensation.clone(),
            scheduled_at: step.scheduled_at,
            started_at: step.started_at,
            finished_at: step.finished_at,
        }
    }
}

/// A step seen as a task, with the ids that name it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    pub workflow_id: Uuid,
    pub task_id: String,
    #[serde(flatten)]
    pub step: Step,
}

/// One page of workflows, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowPage {
    pub items: Vec<Workflow>,
    /// The `cursor` of the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// One event of a workflow's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    /// Its position in the global log.
    pub position: i64,
    /// Its position in the workflow's stream, from 1.
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: Value,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

impl From<&RecordedEvent> for HistoryEvent {
    fn from(record: &RecordedEvent) -> Self {
        Self {
            position: record.position,
            version: record.version,
            event_type: record.event_type.clone(),
            data: record.data.clone(),
            actor: record.metadata.actor.clone(),
            occurred_at: record.metadata.occurred_at,
            recorded_at: record.recorded_at,
        }
    }
}

/// One page of a workflow's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub items: Vec<HistoryEvent>,
    /// The `after` of the next page; null on the last one.
    pub next_after: Option<u64>,
}

/// A started workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct Started {
    pub id: Uuid,
}

/// The workflows a batch started, in the order of the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedBatch {
    pub ids: Vec<Uuid>,
}

/// A worker's report, accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportAccepted {
    pub task_id: String,
    /// The events the report caused, by type.
    pub events: Vec<String>,
}

/// A heartbeat, accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeartbeatAccepted {
    pub task_id: String,
    pub progress: Option<u8>,
}
