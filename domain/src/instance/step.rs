//! The state of one step of an instance: where it stands ([`StepPhase`],
//! each phase carrying only what it has), its attempt counter, and where
//! its compensation stands. Written by `evolve` only.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::event::{FailureKind, SkipReason};

/// The name of a step's phase, as the API, logs and expressions
/// (`steps.X.status`) show it.
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

/// Where a step stands, with what that phase carries: a running step has a
/// worker, a completed one an output, a failed one its failure, a waiting
/// one what it waits for; no other combination can be written.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum StepPhase {
    /// Not started yet, or put back by an operator's retry.
    #[default]
    Pending,
    /// An attempt was dispatched (or the engine runs it at once).
    Scheduled,
    /// A worker reported that it started the attempt.
    Running {
        worker: String,
    },
    Waiting(Waiting),
    Completed {
        output: Arc<Value>,
        /// The worker that started the attempt, if one reported it.
        worker: Option<String>,
    },
    /// The last attempt failed; for good unless a retry follows.
    Failed {
        failure: FailureKind,
        worker: Option<String>,
    },
    Skipped {
        reason: SkipReason,
        /// An operator's output for the step.
        output: Option<Arc<Value>>,
        /// The failure an operator skipped the step after, if any.
        failure: Option<FailureKind>,
    },
}

impl StepPhase {
    pub fn status(&self) -> StepStatus {
        match self {
            Self::Pending => StepStatus::Pending,
            Self::Scheduled => StepStatus::Scheduled,
            Self::Running { .. } => StepStatus::Running,
            Self::Waiting(_) => StepStatus::Waiting,
            Self::Completed { .. } => StepStatus::Completed,
            Self::Failed { .. } => StepStatus::Failed,
            Self::Skipped { .. } => StepStatus::Skipped,
        }
    }
}

/// What a `waiting` step waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum Waiting {
    Approval {
        due_at: Option<DateTime<Utc>>,
    },
    /// Backoff before `attempt` runs.
    Retry {
        attempt: u32,
        at: DateTime<Utc>,
        /// The failure of the attempt before.
        failure: Option<FailureKind>,
    },
    /// A `wait` step, or a `noop` with a duration.
    Timer {
        until: DateTime<Utc>,
    },
    /// A `signal` step.
    Signal {
        due_at: Option<DateTime<Utc>>,
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
    pub(crate) phase: StepPhase,
    /// The last attempt scheduled (0 before the first); an operator's retry
    /// continues the numbering.
    pub attempt: u32,
    pub compensation: CompensationState,
    /// The last compensation attempt scheduled (0 before the first).
    pub compensation_attempt: u32,
}

impl StepState {
    pub fn phase(&self) -> &StepPhase {
        &self.phase
    }

    pub fn status(&self) -> StepStatus {
        self.phase.status()
    }

    /// What a completed step returned, or an operator gave a skipped one.
    pub fn output(&self) -> Option<&Value> {
        match &self.phase {
            StepPhase::Completed { output, .. } => Some(output),
            StepPhase::Skipped { output, .. } => output.as_deref(),
            _ => None,
        }
    }

    /// The last failure of the step, until its next attempt is scheduled.
    pub fn failure(&self) -> Option<&FailureKind> {
        match &self.phase {
            StepPhase::Failed { failure, .. } => Some(failure),
            StepPhase::Waiting(Waiting::Retry { failure, .. })
            | StepPhase::Skipped { failure, .. } => failure.as_ref(),
            _ => None,
        }
    }

    /// Why the last attempt failed, until the next one is scheduled.
    pub fn error_message(&self) -> Option<&str> {
        self.failure().map(FailureKind::message)
    }

    /// The worker that reported the current (or last finished) attempt started.
    pub fn worker(&self) -> Option<&str> {
        match &self.phase {
            StepPhase::Running { worker } => Some(worker),
            StepPhase::Completed { worker, .. } | StepPhase::Failed { worker, .. } => {
                worker.as_deref()
            }
            _ => None,
        }
    }

    pub fn waiting(&self) -> Option<&Waiting> {
        match &self.phase {
            StepPhase::Waiting(waiting) => Some(waiting),
            _ => None,
        }
    }

    /// Whether its compensation failed for good and waits for an operator.
    pub fn compensation_failed(&self) -> bool {
        matches!(self.compensation, CompensationState::Failed { .. })
    }

    pub fn skip_reason(&self) -> Option<&SkipReason> {
        match &self.phase {
            StepPhase::Skipped { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
