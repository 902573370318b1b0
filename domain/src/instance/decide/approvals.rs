//! Approve and Reject: only an approver may decide, only while the approval
//! is pending and the instance is running or paused.

use super::Transition;
use crate::definition::StepKind;
use crate::ids::StepId;
use crate::instance::command::Actor;
use crate::instance::error::DomainError;
use crate::instance::event::{Event, FailureKind, StepError};
use crate::instance::evolve::approval_output;
use crate::instance::state::{InstanceStatus, Waiting};

impl Transition {
    fn pending_approval(&self, step: &StepId, actor: &Actor) -> Result<(usize, u32), DomainError> {
        let index = self.step_index(step)?;
        let status = self.state.status;
        if !matches!(status, InstanceStatus::Running | InstanceStatus::Paused) {
            return Err(DomainError::NotRunning { status });
        }
        let state = &self.state.steps[index];
        let StepKind::Approval { approvers, .. } = &self.state.definition.steps[index].kind else {
            return Err(DomainError::ApprovalNotPending {
                step: step.clone(),
                status: state.status,
            });
        };
        if !matches!(state.waiting, Some(Waiting::Approval { .. })) {
            return Err(DomainError::ApprovalNotPending {
                step: step.clone(),
                status: state.status,
            });
        }
        if !actor.may_approve(approvers) {
            return Err(DomainError::NotAnApprover {
                step: step.clone(),
                actor: actor.id.clone(),
            });
        }
        Ok((index, state.attempt))
    }

    pub fn approve(
        &mut self,
        step: &StepId,
        actor: &Actor,
        comment: Option<&str>,
    ) -> Result<(), DomainError> {
        let (_, attempt) = self.pending_approval(step, actor)?;
        self.emit(Event::ApprovalGranted {
            step: step.clone(),
            by: actor.id.clone(),
            comment: comment.map(str::to_owned),
        });
        self.emit(Event::StepCompleted {
            step: step.clone(),
            attempt,
            output: approval_output(true, &actor.id, comment),
        });
        Ok(())
    }

    pub fn reject(
        &mut self,
        step: &StepId,
        actor: &Actor,
        comment: Option<&str>,
    ) -> Result<(), DomainError> {
        let (index, attempt) = self.pending_approval(step, actor)?;
        self.emit(Event::ApprovalRejected {
            step: step.clone(),
            by: actor.id.clone(),
            comment: comment.map(str::to_owned),
        });
        let message = match comment {
            Some(comment) => format!("rejected by {}: {comment}", actor.id),
            None => format!("rejected by {}", actor.id),
        };
        self.attempt_failed(
            index,
            attempt,
            FailureKind::Failed(StepError::permanent(message)),
        );
        Ok(())
    }
}
