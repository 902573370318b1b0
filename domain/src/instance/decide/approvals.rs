//! Approve and Reject (while the instance is running or paused, as the table
//! in [`super::Transition::handle`] says): only an approver may decide, and
//! only while the approval is pending. An approval's deadline may grant it too.

use serde_json::{Value, json};

use super::Transition;
use crate::definition::StepKind;
use crate::ids::StepId;
use crate::instance::command::Actor;
use crate::instance::error::DomainError;
use crate::instance::event::{Event, FailureKind, StepError};
use crate::instance::step::Waiting;

impl Transition {
    fn pending_approval(&self, step: &StepId, actor: &Actor) -> Result<(usize, u32), DomainError> {
        let index = self.step_index(step)?;
        let state = &self.state.steps[index];
        let not_pending = || DomainError::ApprovalNotPending {
            step: step.clone(),
            status: state.status(),
        };
        let StepKind::Approval { approvers, .. } = &self.state.definition.steps[index].kind else {
            return Err(not_pending());
        };
        if !matches!(state.waiting(), Some(Waiting::Approval { .. })) {
            return Err(not_pending());
        }
        if !actor.may_approve(approvers) {
            return Err(DomainError::NotAnApprover {
                step: step.clone(),
                actor: actor.id.clone(),
                approvers: approvers.clone(),
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
        self.grant(step, attempt, &actor.id, comment);
        Ok(())
    }

    /// Records the approval granted and completes the step with the decision.
    pub fn grant(&mut self, step: &StepId, attempt: u32, by: &str, comment: Option<&str>) {
        self.emit(Event::ApprovalGranted {
            step: step.clone(),
            by: by.to_owned(),
            comment: comment.map(str::to_owned),
        });
        self.emit(Event::StepCompleted {
            step: step.clone(),
            attempt,
            output: granted(by, comment),
        });
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

/// The output a granted approval completes its step with (a rejection
/// fails the step instead).
fn granted(by: &str, comment: Option<&str>) -> Value {
    json!({ "approved": true, "by": by, "comment": comment })
}
