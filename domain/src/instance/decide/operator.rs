//! Operator commands: pause, resume, cancel, retry and skip. Which instance
//! status admits which of them is the table in [`super::Transition::handle`];
//! here, what each does and which steps it may act on.

use serde_json::Value;

use super::Transition;
use crate::ids::StepId;
use crate::instance::error::DomainError;
use crate::instance::event::{CompensationCause, Event, SkipReason};
use crate::instance::state::InstanceStatus;
use crate::instance::step::{StepStatus, Waiting};

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

    /// In a failed instance: one more attempt of a step that failed for good.
    pub fn retry_failed_step(&mut self, step: &StepId) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        if self.state.steps[index].status() != StepStatus::Failed
            || self.state.satisfies_needs(index)
        {
            return self.not_retryable(step);
        }
        self.emit(Event::StepRetryRequested { step: step.clone() });
        Ok(())
    }

    /// In a `compensation_failed` instance: one more attempt of a failed compensation.
    pub fn retry_failed_compensation(&mut self, step: &StepId) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        if !self.state.steps[index].compensation_failed() {
            return self.not_retryable(step);
        }
        self.emit(Event::CompensationRetryRequested { step: step.clone() });
        Ok(())
    }

    pub fn not_retryable(&self, step: &StepId) -> Result<(), DomainError> {
        self.refuse_operator(step, |step, step_status, status| {
            DomainError::NotRetryable {
                step,
                step_status,
                status,
            }
        })
    }

    /// Refuses an operator's retry or skip of a known step with `rule`,
    /// which names the step's status and the instance's.
    fn refuse_operator(
        &self,
        step: &StepId,
        rule: fn(StepId, StepStatus, InstanceStatus) -> DomainError,
    ) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        let step_status = self.state.steps[index].status();
        Err(rule(step.clone(), step_status, self.state.status))
    }

    /// While running or paused: a step that has not started, or waits for
    /// a retry or an approval.
    pub fn skip_unstarted_step(
        &mut self,
        step: &StepId,
        output: &Value,
    ) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        let state = &self.state.steps[index];
        let unstarted = state.status() == StepStatus::Pending
            || matches!(
                state.waiting(),
                Some(Waiting::Retry { .. } | Waiting::Approval { .. })
            );
        if !unstarted {
            return self.not_skippable(step);
        }
        self.skipped_by_operator(step, output);
        Ok(())
    }

    /// In a failed instance: a step that failed.
    pub fn skip_failed_step(&mut self, step: &StepId, output: &Value) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        if self.state.steps[index].status() != StepStatus::Failed {
            return self.not_skippable(step);
        }
        self.skipped_by_operator(step, output);
        Ok(())
    }

    fn skipped_by_operator(&mut self, step: &StepId, output: &Value) {
        self.emit(Event::StepSkipped {
            step: step.clone(),
            reason: SkipReason::Operator,
            output: Some(output.clone()),
        });
    }

    /// In a `compensation_failed` instance: declares a failed compensation done.
    pub fn skip_failed_compensation(&mut self, step: &StepId) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        if !self.state.steps[index].compensation_failed() {
            return self.not_skippable(step);
        }
        self.emit(Event::CompensationSkipped { step: step.clone() });
        Ok(())
    }

    pub fn not_skippable(&self, step: &StepId) -> Result<(), DomainError> {
        self.refuse_operator(step, |step, step_status, status| {
            DomainError::NotSkippable {
                step,
                step_status,
                status,
            }
        })
    }
}
