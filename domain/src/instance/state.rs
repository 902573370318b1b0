//! The state of an instance: a fold of its events.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::event::{CompensationCause, SkipReason};
use super::step::{CompensationState, StepPhase, StepState, StepStatus};
use crate::definition::{OnError, WorkflowDefinition};
use crate::expression::Scope;
use crate::ids::InstanceId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    NotStarted,
    /// Accepted with a `start_at` in the future: nothing runs before then,
    /// and it can be cancelled.
    Scheduled,
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
    /// Whether the instance has ended. `failed` and `compensation_failed`
    /// can still be left by an operator's retry or skip.
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

    /// Running or paused: the forward steps are under way. Only here are
    /// approvals decided, a cancel accepted, failed attempts retried, and
    /// the workflow's deadline enforced.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Running | Self::Paused)
    }

    /// Whether worker results and timers are still recorded: while active
    /// or compensating, and while failed (an operator's retry then finds the
    /// steps that were in flight settled, not lost).
    pub fn admits_results(self) -> bool {
        self.is_active() || matches!(self, Self::Compensating | Self::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::Scheduled => "scheduled",
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
            "scheduled" => Self::Scheduled,
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
    /// Signals received and not taken by a step yet, oldest first: `(name, payload)`.
    pub signals: Vec<(String, Arc<Value>)>,
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
            signals: Vec::new(),
            version: 0,
        }
    }

    /// Whether a step's outcome lets its dependants run: completed, skipped
    /// by an operator with an output, or failed with `on_error: continue`.
    pub(crate) fn satisfies_needs(&self, index: usize) -> bool {
        match self.steps[index].phase() {
            StepPhase::Completed { .. } => true,
            StepPhase::Skipped { reason, .. } => *reason == SkipReason::Operator,
            StepPhase::Failed { .. } => self.definition.steps[index].on_error == OnError::Continue,
            _ => false,
        }
    }

    /// Whether a step will never run nor change again in a running instance.
    pub(crate) fn is_settled(&self, index: usize) -> bool {
        self.steps[index].status() == StepStatus::Skipped || self.satisfies_needs(index)
    }

    /// A task or HTTP attempt a worker may still answer.
    pub(crate) fn is_in_flight(&self, index: usize) -> bool {
        matches!(
            self.steps[index].status(),
            StepStatus::Scheduled | StepStatus::Running
        ) && self.definition.steps[index].kind.is_dispatched()
    }

    /// Completed, has a compensation, and has not been undone yet.
    pub(crate) fn needs_undoing(&self, index: usize) -> bool {
        self.steps[index].status() == StepStatus::Completed
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
        Some((step.status().as_str(), step.output()))
    }

    fn workflow(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "name": self.definition.name,
            "version": self.definition.version,
        })
    }
}
