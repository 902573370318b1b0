//! Commands: what may be asked of an instance. Imperative; each is accepted
//! (some events), ignored as a duplicate or stale (no events), or refused
//! with a rule-named [`super::DomainError`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::StepError;
use crate::ids::StepId;

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    StartWorkflow {
        input: Value,
        started_by: String,
        /// When to start; a time not after `now` starts at once.
        start_at: Option<DateTime<Utc>>,
    },
    RecordStepStarted {
        step: StepId,
        attempt: u32,
        worker: String,
    },
    CompleteStep {
        step: StepId,
        attempt: u32,
        output: Value,
    },
    FailStep {
        step: StepId,
        attempt: u32,
        error: StepError,
    },
    CompleteCompensation {
        step: StepId,
        attempt: u32,
        output: Value,
    },
    FailCompensation {
        step: StepId,
        attempt: u32,
        error: StepError,
    },
    FireTimer(Timer),
    Approve {
        step: StepId,
        actor: Actor,
        comment: Option<String>,
    },
    Reject {
        step: StepId,
        actor: Actor,
        comment: Option<String>,
    },
    Pause,
    Resume,
    Cancel {
        compensate: bool,
    },
    /// Sends the signal `name` with its payload.
    Signal {
        name: String,
        payload: Value,
        actor: Actor,
    },
    /// Runs a failed step once more (the instance failed without compensating),
    /// or a failed compensation once more.
    RetryStep {
        step: StepId,
        /// Who asks: an approval step needs one who may decide it.
        by: Actor,
    },
    /// Skips a pending or failed step with an output, or a failed compensation.
    SkipStep {
        step: StepId,
        output: Value,
        /// Who asks: an approval step needs one who may decide it.
        by: Actor,
    },
}

impl Command {
    /// The variant's name, as logs and traces show it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::StartWorkflow { .. } => "StartWorkflow",
            Self::RecordStepStarted { .. } => "RecordStepStarted",
            Self::CompleteStep { .. } => "CompleteStep",
            Self::FailStep { .. } => "FailStep",
            Self::CompleteCompensation { .. } => "CompleteCompensation",
            Self::FailCompensation { .. } => "FailCompensation",
            Self::FireTimer(_) => "FireTimer",
            Self::Approve { .. } => "Approve",
            Self::Reject { .. } => "Reject",
            Self::Pause => "Pause",
            Self::Resume => "Resume",
            Self::Cancel { .. } => "Cancel",
            Self::Signal { .. } => "Signal",
            Self::RetryStep { .. } => "RetryStep",
            Self::SkipStep { .. } => "SkipStep",
        }
    }
}

/// The role that may do anything, overriding an approval included
/// (`docs/auth.md`).
pub const ADMIN_ROLE: &str = "admin";
/// The role that decides approvals (`docs/auth.md`).
pub const APPROVER_ROLE: &str = "approver";

/// Who issues a command: an id and the roles it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub roles: Vec<String>,
}

impl Actor {
    pub fn new(id: impl Into<String>, roles: &[&str]) -> Self {
        Self {
            id: id.into(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        }
    }

    /// Whether this actor may override an approval (skip or retry the step
    /// instead of deciding it): an admin, or one who may decide it (who
    /// holds the approver role and is one of its `approvers`).
    pub fn may_override(&self, approvers: &[String]) -> bool {
        let holds = |wanted: &str| self.roles.iter().any(|role| role == wanted);
        holds(ADMIN_ROLE) || (holds(APPROVER_ROLE) && self.may_approve(approvers))
    }

    /// Whether this actor is one of `approvers` (`role:X` or `user:X`); an
    /// empty list lets anyone decide.
    pub fn may_approve(&self, approvers: &[String]) -> bool {
        approvers.is_empty()
            || approvers
                .iter()
                .any(|approver| match approver.split_once(':') {
                    Some(("role", role)) => self.roles.iter().any(|held| held == role),
                    Some(("user", user)) => self.id == user,
                    _ => false,
                })
    }
}

/// A due time the engine wakes an instance at. Stored with the due time and
/// fired as [`Command::FireTimer`]; a timer that no longer applies decides to
/// nothing, so timers are never cancelled.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "snake_case")]
pub enum Timer {
    StepRetry {
        step: StepId,
        attempt: u32,
    },
    StepDeadline {
        step: StepId,
        attempt: u32,
    },
    Heartbeat {
        step: StepId,
        attempt: u32,
    },
    ApprovalDeadline {
        step: StepId,
        attempt: u32,
    },
    Wake {
        step: StepId,
        attempt: u32,
    },
    /// A `signal` step's `timeout` ran out.
    SignalDeadline {
        step: StepId,
        attempt: u32,
    },
    /// A scheduled instance's `start_at` came.
    ScheduledStart,
    WorkflowDeadline,
    /// The workflow's `sla:` ran out.
    WorkflowSla,
    CompensationRetry {
        step: StepId,
        attempt: u32,
    },
    CompensationDeadline {
        step: StepId,
        attempt: u32,
    },
}

impl Timer {
    /// The step the timer is about, if any.
    pub fn step(&self) -> Option<&StepId> {
        match self {
            Timer::StepRetry { step, .. }
            | Timer::StepDeadline { step, .. }
            | Timer::Heartbeat { step, .. }
            | Timer::ApprovalDeadline { step, .. }
            | Timer::Wake { step, .. }
            | Timer::SignalDeadline { step, .. }
            | Timer::CompensationRetry { step, .. }
            | Timer::CompensationDeadline { step, .. } => Some(step),
            Timer::ScheduledStart | Timer::WorkflowDeadline | Timer::WorkflowSla => None,
        }
    }
}
