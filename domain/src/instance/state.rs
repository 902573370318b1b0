//! The state of an instance: a fold of its events.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::event::{CompensationCause, SkipReason, StepError};
use crate::definition::{OnError, WorkflowDefinition};
use crate::expression::Scope;
use crate::ids::InstanceId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    NotStarted,
    Running,
    Paused,
    Compensating,
    Completed,
    Failed,
    Compensated,
    CompensationFailed,
    Cancelled,
}

impl InstanceStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed
                | Self::Failed
                | Self::Compensated
                | Self::CompensationFailed
                | Self::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Compensating => "compensating",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Compensated => "compensated",
            Self::CompensationFailed => "compensation_failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status from its name ([`InstanceStatus::as_str`]), as the read models
/// store it.
impl std::str::FromStr for InstanceStatus {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, UnknownStatus> {
        Ok(match name {
            "not_started" => Self::NotStarted,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "compensating" => Self::Compensating,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "compensated" => Self::Compensated,
            "compensation_failed" => Self::CompensationFailed,
            "cancelled" => Self::Cancelled,
            _ => return Err(UnknownStatus(name.to_owned())),
        })
    }
}

/// A name that is no [`InstanceStatus`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an instance status")]
pub struct UnknownStatus(pub String);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    #[default]
    Pending,
    Scheduled,
    Running,
    Waiting,
    Completed,
    Failed,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `waiting` step waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    Approval {
        due_at: Option<DateTime<Utc>>,
    },
    /// Backoff before `attempt` runs.
    Retry {
        attempt: u32,
        at: DateTime<Utc>,
    },
    /// A `wait` step, or a `noop` with a duration.
    Timer {
        until: DateTime<Utc>,
    },
}

/// Where the undoing of a step stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompensationState {
    #[default]
    NotStarted,
    Scheduled {
        attempt: u32,
    },
    Retrying {
        attempt: u32,
        at: DateTime<Utc>,
    },
    Completed,
    /// Failed for good; waits for an operator.
    Failed {
        attempt: u32,
    },
    Skipped,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepState {
    pub status: StepStatus,
    /// The last attempt scheduled (0 before the first).
    pub attempt: u32,
    pub waiting: Option<Waiting>,
    pub output: Option<Arc<Value>>,
    pub error: Option<StepError>,
    pub skip: Option<SkipReason>,
    pub worker: Option<String>,
    pub compensation: CompensationState,
    /// The last compensation attempt scheduled (0 before the first).
    pub compensation_attempt: u32,
}

#[derive(Clone, Debug)]
pub struct WorkflowInstance {
    pub id: InstanceId,
    pub definition: Arc<WorkflowDefinition>,
    pub status: InstanceStatus,
    pub input: Arc<Value>,
    /// By step index, in the definition's (topological) order.
    pub steps: Vec<StepState>,
    pub cause: Option<CompensationCause>,
    pub cancel_requested: bool,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Whether the instance ran past its `sla:` (recorded once).
    pub sla_breached: bool,
    /// Events applied so far: the stream version.
    pub version: u64,
}

impl WorkflowInstance {
    /// The state before the first event.
    pub fn new(id: InstanceId, definition: Arc<WorkflowDefinition>) -> Self {
        let steps = vec![StepState::default(); definition.steps.len()];
        Self {
            id,
            definition,
            status: InstanceStatus::NotStarted,
            input: Arc::new(Value::Null),
            steps,
            cause: None,
            cancel_requested: false,
            output: None,
            error: None,
            sla_breached: false,
            version: 0,
        }
    }

    /// Whether a step's outcome lets its dependants run: completed, skipped
    /// by an operator with an output, or failed with `on_error: continue`.
    pub(crate) fn satisfies_needs(&self, index: usize) -> bool {
        let step = &self.steps[index];
        match step.status {
            StepStatus::Completed => true,
            StepStatus::Skipped => step.skip == Some(SkipReason::Operator),
            StepStatus::Failed => self.definition.steps[index].on_error == OnError::Continue,
            _ => false,
        }
    }

    /// Whether a step will never run nor change again in a running instance.
    pub(crate) fn is_settled(&self, index: usize) -> bool {
        self.steps[index].status == StepStatus::Skipped || self.satisfies_needs(index)
    }

    /// A task or HTTP attempt a worker may still answer.
    pub(crate) fn is_in_flight(&self, index: usize) -> bool {
        matches!(
            self.steps[index].status,
            StepStatus::Scheduled | StepStatus::Running
        ) && self.definition.steps[index].kind.is_dispatched()
    }

    /// Completed, has a compensation, and has not been undone yet.
    pub(crate) fn needs_undoing(&self, index: usize) -> bool {
        self.steps[index].status == StepStatus::Completed
            && self.definition.steps[index].compensate.is_some()
            && !matches!(
                self.steps[index].compensation,
                CompensationState::Completed | CompensationState::Skipped
            )
    }

    pub(crate) fn idempotency_key(&self, index: usize) -> String {
        format!("{}:{}", self.id, self.definition.steps[index].id)
    }

    pub(crate) fn compensation_key(&self, index: usize) -> String {
        format!("{}:{}:compensate", self.id, self.definition.steps[index].id)
    }
}

impl Scope for WorkflowInstance {
    fn input(&self) -> &Value {
        &self.input
    }

    fn step(&self, id: &str) -> Option<(&'static str, Option<&Value>)> {
        let index = self.definition.step_index(id)?;
        let step = &self.steps[index];
        Some((step.status.as_str(), step.output.as_deref()))
    }

    fn workflow(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.definition.name,
            "version": self.definition.version,
        })
    }
}
