//! `decide`: the rules. [`Transition::handle`] is the lifecycle as one table:
//! which commands each instance status admits, and what becomes of the
//! others. The handlers live in one file per command family; after any
//! command the instance is advanced to a fixpoint (ready steps scheduled,
//! skips propagated, compensations ordered, final state reached), so a
//! duplicate command finds nothing left to do and decides no events.

mod approvals;
mod operator;
mod results;
mod signals;
mod start;
mod timers;

use chrono::{DateTime, Utc};

use super::command::{Command, Timer};
use super::effects::TaskKind;
use super::error::DomainError;
use super::event::Event;
use super::state::{InstanceStatus, WorkflowInstance};
use super::step::StepStatus;
use crate::ids::StepId;
use results::Report;

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
    let mut transition = Transition {
        state: state.clone(),
        events: Vec::new(),
        context,
    };
    transition.handle(command)?;
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
    /// The lifecycle: what each instance status does with each command. A
    /// row without a handler ignores the command (stale: no events) or
    /// refuses it. A handler still checks the step it names: a report for
    /// another attempt decides nothing (`results`), a timer applies in some
    /// statuses only (`timers`), retry and skip act on some steps only
    /// (`operator`). A command naming a step the definition lacks is refused
    /// as `UnknownStep` once the instance started.
    #[rustfmt::skip]
    fn handle(&mut self, command: &Command) -> Result<(), DomainError> {
        use Command as C;
        use DomainError as E;
        use InstanceStatus as S;
        use TaskKind::{Compensation, Forward};
        match (self.state.status, command) {
            (S::NotStarted, C::StartWorkflow { input, started_by, start_at })         => self.start(input, started_by, *start_at),
            (_, C::StartWorkflow { .. })                                              => Err(E::AlreadyStarted),
            (S::NotStarted, _)                                                        => Err(E::NotStarted),

            (s, C::RecordStepStarted { step, attempt, worker }) if s.admits_results() => self.report(Forward, step, *attempt, Report::Started(worker)),
            (s, C::CompleteStep { step, attempt, output }) if s.admits_results()      => self.report(Forward, step, *attempt, Report::Completed(output)),
            (s, C::FailStep { step, attempt, error }) if s.admits_results()           => self.report(Forward, step, *attempt, Report::Failed(error)),
            (S::Compensating, C::CompleteCompensation { step, attempt, output })      => self.report(Compensation, step, *attempt, Report::Completed(output)),
            (S::Compensating, C::FailCompensation { step, attempt, error })           => self.report(Compensation, step, *attempt, Report::Failed(error)),
            (_, C::RecordStepStarted { step, .. } | C::CompleteStep { step, .. } | C::FailStep { step, .. }
              | C::CompleteCompensation { step, .. } | C::FailCompensation { step, .. }) => self.stale(step),

            (S::Scheduled, C::FireTimer(Timer::ScheduledStart))                       => self.begin(),
            (s, C::FireTimer(timer)) if s.admits_results()                            => self.fire(timer),
            (_, C::FireTimer(_))                                                      => Ok(()),

            (s, C::Approve { step, actor, comment }) if s.is_active()                 => self.approve(step, actor, comment.as_deref()),
            (s, C::Reject { step, actor, comment }) if s.is_active()                  => self.reject(step, actor, comment.as_deref()),
            (status, C::Approve { step, .. } | C::Reject { step, .. })                => self.refuse(step, E::NotRunning { status }),

            (s, C::Signal { name, payload, actor }) if s.is_active()                  => self.signal(name, payload, actor),
            (status, C::Signal { name, .. })                                          => self.refuse_signal(name, E::NotRunning { status }),

            (S::Running, C::Pause)                                                    => self.pause(),
            (status, C::Pause)                                                        => Err(E::NotRunning { status }),
            (S::Paused, C::Resume)                                                    => self.resume(),
            (status, C::Resume)                                                       => Err(E::NotPaused { status }),
            (S::Scheduled, C::Cancel { .. })                                          => self.cancel_scheduled(),
            (s, C::Cancel { compensate }) if s.is_active()                            => self.cancel(*compensate),
            (status, C::Cancel { .. })                                                => Err(E::CannotCancel { status }),

            (S::Failed | S::CompensationFailed, C::RetryStep { step, by })            => self.retry(step, by),
            (status, C::RetryStep { step, .. })                                         => Err(E::NotRetryable { step: step.clone(), step_status: self.step_status(step)?, status }),

            (s, C::SkipStep { step, output, by }) if s.is_active()                    => self.skip(step, output, by),
            (S::Failed | S::CompensationFailed, C::SkipStep { step, output, by })     => self.skip(step, output, by),
            (status, C::SkipStep { step, .. })                                        => Err(E::NotSkippable { step: step.clone(), step_status: self.step_status(step)?, status }),
        }
    }

    pub fn emit(&mut self, event: Event) {
        self.state.apply(&event);
        self.events.push(event);
    }

    pub fn step_index(&self, step: &StepId) -> Result<usize, DomainError> {
        self.state
            .definition
            .step_index(step.as_str())
            .ok_or_else(|| DomainError::UnknownStep { step: step.clone() })
    }

    fn step_status(&self, step: &StepId) -> Result<StepStatus, DomainError> {
        Ok(self.state.steps[self.step_index(step)?].status())
    }

    /// A report about a known step that comes too late: nothing to do.
    fn stale(&self, step: &StepId) -> Result<(), DomainError> {
        self.step_index(step).map(drop)
    }

    /// Refuses a command about a known step with `error`.
    fn refuse(&self, step: &StepId, error: DomainError) -> Result<(), DomainError> {
        self.step_index(step)?;
        Err(error)
    }

    /// `now + duration`, saturating far in the future.
    pub fn after(&self, duration: std::time::Duration) -> DateTime<Utc> {
        start::later(self.context.now, duration)
    }
}
