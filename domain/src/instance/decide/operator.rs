//! Operator commands: pause, resume, cancel, retry and skip. Each applies to
//! some states only; anywhere else it is refused and changes nothing.

use serde_json::Value;

use super::Transition;
use crate::ids::StepId;
use crate::instance::error::DomainError;
use crate::instance::event::{CompensationCause, Event, SkipReason};
use crate::instance::state::{CompensationState, InstanceStatus, StepStatus, Waiting};

impl Transition {
    pub fn pause(&mut self) -> Result<(), DomainError> {
        match self.state.status {
            InstanceStatus::Running => {
                self.emit(Event::WorkflowPaused);
                Ok(())
            }
            status => Err(DomainError::NotRunning { status }),
        }
    }

    pub fn resume(&mut self) -> Result<(), DomainError> {
        match self.state.status {
            InstanceStatus::Paused => {
                self.emit(Event::WorkflowResumed);
                Ok(())
            }
            status => Err(DomainError::NotPaused { status }),
        }
    }

    pub fn cancel(&mut self, compensate: bool) -> Result<(), DomainError> {
        let status = self.state.status;
        if !matches!(status, InstanceStatus::Running | InstanceStatus::Paused) {
            return Err(DomainError::CannotCancel { status });
        }
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

    pub fn retry(&mut self, step: &StepId) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        let status = self.state.status;
        let state = &self.state.steps[index];
        match (status, state.status, state.compensation) {
            (InstanceStatus::Failed, StepStatus::Failed, _)
                if !self.state.satisfies_needs(index) =>
            {
                self.emit(Event::StepRetryRequested { step: step.clone() });
                Ok(())
            }
            (InstanceStatus::CompensationFailed, _, CompensationState::Failed { .. }) => {
                self.emit(Event::CompensationRetryRequested { step: step.clone() });
                Ok(())
            }
            (status, step_status, _) => Err(DomainError::NotRetryable {
                step: step.clone(),
                step_status,
                status,
            }),
        }
    }

    pub fn skip(&mut self, step: &StepId, output: &Value) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        let status = self.state.status;
        let state = &self.state.steps[index];
        let not_started = state.status == StepStatus::Pending
            || matches!(
                state.waiting,
                Some(Waiting::Retry { .. } | Waiting::Approval { .. })
            );
        let skip_step = match (status, state.status) {
            (InstanceStatus::Failed, StepStatus::Failed) => true,
            (InstanceStatus::Running | InstanceStatus::Paused, _) => not_started,
            _ => false,
        };
        if skip_step {
            self.emit(Event::StepSkipped {
                step: step.clone(),
                reason: SkipReason::Operator,
                output: Some(output.clone()),
            });
            return Ok(());
        }
        if status == InstanceStatus::CompensationFailed
            && matches!(state.compensation, CompensationState::Failed { .. })
        {
            self.emit(Event::CompensationSkipped { step: step.clone() });
            return Ok(());
        }
        Err(DomainError::NotSkippable {
            step: step.clone(),
            step_status: state.status,
            status,
        })
    }
}
