//! `decide`: the rules. Each command is handled in its own file; after any
//! command the instance is advanced to a fixpoint (ready steps scheduled,
//! skips propagated, compensations ordered, final state reached), so a
//! duplicate command finds nothing left to do and decides no events.

mod approvals;
mod operator;
mod results;
mod start;
mod timers;

use chrono::{DateTime, Utc};

use super::command::Command;
use super::error::DomainError;
use super::event::Event;
use super::state::{InstanceStatus, WorkflowInstance};

/// What a decision may depend on besides the state and the command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionContext {
    pub now: DateTime<Utc>,
    /// Random bits for retry jitter, drawn by the caller.
    pub entropy: u64,
}

impl DecisionContext {
    pub fn new(now: DateTime<Utc>, entropy: u64) -> Self {
        Self { now, entropy }
    }
}

pub fn decide(
    state: &WorkflowInstance,
    command: &Command,
    context: DecisionContext,
) -> Result<Vec<Event>, DomainError> {
    if state.status == InstanceStatus::NotStarted
        && !matches!(command, Command::StartWorkflow { .. })
    {
        return Err(DomainError::NotStarted);
    }
    let mut transition = Transition {
        state: state.clone(),
        events: Vec::new(),
        context,
    };
    match command {
        Command::StartWorkflow { input, started_by } => transition.start(input, started_by)?,
        Command::RecordStepStarted {
            step,
            attempt,
            worker,
        } => {
            transition.record_started(step, *attempt, worker)?;
        }
        Command::CompleteStep {
            step,
            attempt,
            output,
        } => transition.complete(step, *attempt, output)?,
        Command::FailStep {
            step,
            attempt,
            error,
        } => transition.fail(step, *attempt, error)?,
        Command::CompleteCompensation {
            step,
            attempt,
            output,
        } => {
            transition.complete_compensation(step, *attempt, output)?;
        }
        Command::FailCompensation {
            step,
            attempt,
            error,
        } => {
            transition.fail_compensation(step, *attempt, error)?;
        }
        Command::FireTimer(timer) => transition.fire(timer)?,
        Command::Approve {
            step,
            actor,
            comment,
        } => transition.approve(step, actor, comment.as_deref())?,
        Command::Reject {
            step,
            actor,
            comment,
        } => transition.reject(step, actor, comment.as_deref())?,
        Command::Pause => transition.pause()?,
        Command::Resume => transition.resume()?,
        Command::Cancel { compensate } => transition.cancel(*compensate)?,
        Command::RetryStep { step } => transition.retry(step)?,
        Command::SkipStep { step, output } => transition.skip(step, output)?,
    }
    transition.advance();
    Ok(transition.events)
}

/// A working copy of the state and the events decided so far; every event
/// is applied to the copy as it is emitted, so later rules see its effect.
pub(crate) struct Transition {
    pub state: WorkflowInstance,
    pub events: Vec<Event>,
    pub context: DecisionContext,
}

impl Transition {
    pub fn emit(&mut self, event: Event) {
        self.state.apply(&event);
        self.events.push(event);
    }

    pub fn step_index(&self, step: &crate::ids::StepId) -> Result<usize, DomainError> {
        self.state
            .definition
            .step_index(step.as_str())
            .ok_or_else(|| DomainError::UnknownStep { step: step.clone() })
    }

    /// `now + duration`, saturating far in the future.
    pub fn after(&self, duration: std::time::Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(duration)
            .ok()
            .and_then(|duration| self.context.now.checked_add_signed(duration))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}
