//! Timers firing: retry backoff over, attempt or heartbeat deadline passed,
//! approval deadline, a wait elapsed, the workflow's deadline. A timer that
//! no longer applies (the step moved on) decides nothing.

use super::Transition;
use crate::definition::{ApprovalTimeout, StepKind};
use crate::ids::StepId;
use crate::instance::command::Timer;
use crate::instance::error::DomainError;
use crate::instance::event::{CompensationCause, Event, FailureKind, StepError, TimeoutKind};
use crate::instance::evolve::approval_output;
use crate::instance::state::{CompensationState, InstanceStatus, StepStatus, Waiting};

impl Transition {
    pub fn fire(&mut self, timer: &Timer) -> Result<(), DomainError> {
        let status = self.state.status;
        let live = matches!(
            status,
            InstanceStatus::Running
                | InstanceStatus::Paused
                | InstanceStatus::Compensating
                | InstanceStatus::Failed
        );
        if !live {
            return Ok(());
        }
        match timer {
            Timer::StepRetry { step, attempt } => {
                let index = self.step_index(step)?;
                let waiting = self.state.steps[index].waiting;
                if status == InstanceStatus::Running
                    && matches!(waiting, Some(Waiting::Retry { attempt: due, .. }) if due == *attempt)
                {
                    self.start_step(index);
                }
            }
            Timer::StepDeadline { step, attempt } | Timer::Heartbeat { step, attempt } => {
                let index = self.step_index(step)?;
                let state = &self.state.steps[index];
                let heartbeat = matches!(timer, Timer::Heartbeat { .. });
                let applies = self.state.is_in_flight(index)
                    && state.attempt == *attempt
                    && (!heartbeat || state.status == StepStatus::Running);
                if applies {
                    let kind = if heartbeat {
                        TimeoutKind::Heartbeat
                    } else {
                        TimeoutKind::Attempt
                    };
                    self.attempt_failed(index, *attempt, FailureKind::TimedOut(kind));
                }
            }
            Timer::ApprovalDeadline { step, attempt } => self.approval_deadline(step, *attempt)?,
            Timer::Wake { step, attempt } => {
                let index = self.step_index(step)?;
                let state = &self.state.steps[index];
                let applies = status != InstanceStatus::Compensating
                    && state.attempt == *attempt
                    && matches!(state.waiting, Some(Waiting::Timer { .. }));
                if applies {
                    self.finish_timed_step(index);
                }
            }
            Timer::WorkflowDeadline => {
                if matches!(status, InstanceStatus::Running | InstanceStatus::Paused) {
                    self.emit(Event::CompensationStarted {
                        cause: CompensationCause::WorkflowTimedOut,
                    });
                }
            }
            Timer::WorkflowSla => {
                let sla = self.state.definition.sla;
                if let Some(sla) = sla.filter(|_| !status.is_final() && !self.state.sla_breached) {
                    self.emit(Event::WorkflowSlaBreached {
                        sla_seconds: sla.as_secs(),
                    });
                }
            }
            Timer::CompensationRetry { step, attempt } => {
                let index = self.step_index(step)?;
                let applies = status == InstanceStatus::Compensating
                    && matches!(self.state.steps[index].compensation, CompensationState::Retrying { attempt: due, .. } if due == *attempt);
                if applies {
                    self.schedule_compensation(index);
                }
            }
            Timer::CompensationDeadline { step, attempt } => {
                let index = self.step_index(step)?;
                let applies = status == InstanceStatus::Compensating
                    && self.state.steps[index].compensation
                        == CompensationState::Scheduled { attempt: *attempt };
                if applies {
                    self.compensation_attempt_failed(
                        index,
                        *attempt,
                        StepError::retryable("the compensation attempt timed out"),
                    );
                }
            }
        }
        Ok(())
    }

    fn approval_deadline(&mut self, step: &StepId, attempt: u32) -> Result<(), DomainError> {
        let index = self.step_index(step)?;
        let state = &self.state.steps[index];
        let applies = matches!(
            self.state.status,
            InstanceStatus::Running | InstanceStatus::Paused
        ) && state.attempt == attempt
            && matches!(state.waiting, Some(Waiting::Approval { .. }));
        if !applies {
            return Ok(());
        }
        let StepKind::Approval { on_timeout, .. } = &self.state.definition.steps[index].kind else {
            return Ok(());
        };
        match on_timeout {
            ApprovalTimeout::Reject => {
                self.attempt_failed(index, attempt, FailureKind::TimedOut(TimeoutKind::Approval));
            }
            ApprovalTimeout::Approve => {
                let by = "system:timeout";
                self.emit(Event::ApprovalGranted {
                    step: step.clone(),
                    by: by.to_owned(),
                    comment: None,
                });
                self.emit(Event::StepCompleted {
                    step: step.clone(),
                    attempt,
                    output: approval_output(true, by, None),
                });
            }
        }
        Ok(())
    }
}
