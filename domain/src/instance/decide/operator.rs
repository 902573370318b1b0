//! Operator commands: pause, resume, cancel, retry and skip. Which instance
//! status admits which of them is the table in [`super::Transition::handle`];
//! here, what each does, and (for retry and skip) which steps it may act on.

use serde_json::Value;

use super::Transition;
use crate::definition::StepKind;
use crate::ids::StepId;
use crate::instance::command::Actor;
use crate::instance::error::DomainError;
use crate::instance::event::{CompensationCause, Event, SkipReason};
use crate::instance::state::InstanceStatus;
use crate::instance::step::{StepPhase, Waiting};

impl Transition {
    pub fn pause(&mut self) -> Result<(), DomainError> {
        self.emit(Event::WorkflowPaused);
        Ok(())
    }

    pub fn resume(&mut self) -> Result<(), DomainError> {
        self.emit(Event::WorkflowResumed);
        Ok(())
    }

    pub fn cancel(&mut self, compensate: bool) -> Result<(), DomainError> {
        self.emit(Event::CancellationRequested { compensate });
        if compensate {
            self.emit(Event::CompensationStarted {
                cause: CompensationCause::Cancelled,
            });
        } else {
            self.emit(Event::WorkflowCancelled);
        }
        Ok(())
    }

    /// The step's index, if `by` may retry or skip it: an approval step
    /// only by one who may decide it (or an admin), since skipping it with
    /// an output, or retrying it, stands in for the decision.
    fn may_override(&self, step: &StepId, by: &Actor) -> Result<usize, DomainError> {
        let index = self.step_index(step)?;
        if let StepKind::Approval { approvers, .. } = &self.state.definition.steps[index].kind
            && !by.may_override(approvers)
        {
            return Err(DomainError::NotAnApprover {
                step: step.clone(),
                actor: by.id.clone(),
                approvers: approvers.clone(),
            });
        }
        Ok(index)
    }

    /// One more attempt: of a step that failed the instance for good, or of
    /// a compensation that failed for good. It continues the numbering.
    #[rustfmt::skip]
    pub fn retry(&mut self, step: &StepId, by: &Actor) -> Result<(), DomainError> {
        use InstanceStatus as S;
        let index = self.may_override(step, by)?;
        let state = &self.state.steps[index];
        let tolerated = self.state.satisfies_needs(index);
        let step = step.clone();
        let event = match (self.state.status, state.phase()) {
            (S::Failed, StepPhase::Failed { .. }) if !tolerated       => Event::StepRetryRequested { step },
            (S::CompensationFailed, _) if state.compensation_failed() => Event::CompensationRetryRequested { step },
            (status, _) => return Err(DomainError::NotRetryable { step, step_status: state.status(), status }),
        };
        self.emit(event);
        Ok(())
    }

    /// Skips a step with an output its dependants see: one that has not
    /// started, or waits for a retry or an approval (while the instance is
    /// active), or one that failed the instance. Or declares a compensation
    /// that failed for good done.
    #[rustfmt::skip]
    pub fn skip(&mut self, step: &StepId, output: &Value, by: &Actor) -> Result<(), DomainError> {
        use InstanceStatus as S;
        let index = self.may_override(step, by)?;
        let state = &self.state.steps[index];
        let unstarted = matches!(
            state.phase(),
            StepPhase::Pending | StepPhase::Waiting(Waiting::Retry { .. } | Waiting::Approval { .. })
        );
        let step = step.clone();
        let skipped = |step| Event::StepSkipped { step, reason: SkipReason::Operator, output: Some(output.clone()) };
        let event = match (self.state.status, state.phase()) {
            (status, _) if status.is_active() && unstarted            => skipped(step),
            (S::Failed, StepPhase::Failed { .. })                     => skipped(step),
            (S::CompensationFailed, _) if state.compensation_failed() => Event::CompensationSkipped { step },
            (status, _) => return Err(DomainError::NotSkippable { step, step_status: state.status(), status }),
        };
        self.emit(event);
        Ok(())
    }
}
