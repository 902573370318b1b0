//! `evolve`: applies one event to the state. It records facts and holds no
//! rules; whatever needed deciding was decided before the event was written.

use std::sync::Arc;

use super::event::{Event, SkipReason, StepError, TimeoutKind};
use super::state::{CompensationState, InstanceStatus, StepStatus, Waiting, WorkflowInstance};

pub fn evolve(mut state: WorkflowInstance, event: &Event) -> WorkflowInstance {
    state.apply(event);
    state
}

impl WorkflowInstance {
    pub(crate) fn apply(&mut self, event: &Event) {
        self.version += 1;
        let index = event
            .step()
            .and_then(|step| self.definition.step_index(step.as_str()));
        match (event, index) {
            (Event::WorkflowStarted { input, .. }, _) => {
                self.status = InstanceStatus::Running;
                self.input = Arc::new(input.clone());
            }
            (
                Event::StepScheduled {
                    attempt, wake_at, ..
                },
                Some(index),
            ) => {
                let step = &mut self.steps[index];
                step.attempt = *attempt;
                step.error = None;
                match wake_at {
                    Some(until) => {
                        step.status = StepStatus::Waiting;
                        step.waiting = Some(Waiting::Timer { until: *until });
                    }
                    None => {
                        step.status = StepStatus::Scheduled;
                        step.waiting = None;
                    }
                }
            }
            (Event::StepStarted { worker, .. }, Some(index)) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Running;
                step.worker = Some(worker.clone());
            }
            (
                Event::StepCompleted {
                    attempt, output, ..
                },
                Some(index),
            ) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Completed;
                step.attempt = *attempt;
                step.waiting = None;
                step.output = Some(Arc::new(output.clone()));
            }
            (Event::StepFailed { attempt, error, .. }, Some(index)) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Failed;
                step.attempt = *attempt;
                step.waiting = None;
                step.error = Some(error.clone());
            }
            (
                Event::StepTimedOut {
                    attempt, timeout, ..
                },
                Some(index),
            ) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Failed;
                step.attempt = *attempt;
                step.waiting = None;
                let message = match timeout {
                    TimeoutKind::Attempt => "the attempt timed out",
                    TimeoutKind::Heartbeat => "the worker stopped sending heartbeats",
                    TimeoutKind::Approval => "nobody decided the approval in time",
                };
                step.error = Some(StepError {
                    message: message.to_owned(),
                    retryable: *timeout != TimeoutKind::Approval,
                });
            }
            (Event::StepRetryScheduled { attempt, at, .. }, Some(index)) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Waiting;
                step.waiting = Some(Waiting::Retry {
                    attempt: *attempt,
                    at: *at,
                });
            }
            (Event::StepSkipped { reason, output, .. }, Some(index)) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Skipped;
                step.waiting = None;
                step.skip = Some(reason.clone());
                step.output = output.clone().map(Arc::new);
                if *reason == SkipReason::Operator && self.status == InstanceStatus::Failed {
                    self.status = InstanceStatus::Running;
                    self.error = None;
                }
            }
            (Event::StepRetryRequested { .. }, Some(index)) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Pending;
                step.error = None;
                self.status = InstanceStatus::Running;
                self.error = None;
            }
            (
                Event::ApprovalRequested {
                    attempt, due_at, ..
                },
                Some(index),
            ) => {
                let step = &mut self.steps[index];
                step.status = StepStatus::Waiting;
                step.attempt = *attempt;
                step.waiting = Some(Waiting::Approval { due_at: *due_at });
            }
            (Event::ApprovalGranted { .. } | Event::ApprovalRejected { .. }, _) => {}
            (Event::WorkflowPaused, _) => self.status = InstanceStatus::Paused,
            (Event::WorkflowResumed, _) => self.status = InstanceStatus::Running,
            (Event::CancellationRequested { compensate }, _) => {
                self.cancel_requested = *compensate;
            }
            (Event::CompensationStarted { cause }, _) => {
                self.status = InstanceStatus::Compensating;
                self.cause = Some(cause.clone());
            }
            (Event::CompensationScheduled { attempt, .. }, Some(index)) => {
                let step = &mut self.steps[index];
                step.compensation = CompensationState::Scheduled { attempt: *attempt };
                step.compensation_attempt = *attempt;
            }
            (Event::CompensationCompleted { .. }, Some(index)) => {
                self.steps[index].compensation = CompensationState::Completed;
            }
            (Event::CompensationFailed { attempt, .. }, Some(index)) => {
                self.steps[index].compensation = CompensationState::Failed { attempt: *attempt };
                self.steps[index].compensation_attempt = *attempt;
            }
            (Event::CompensationRetryScheduled { attempt, at, .. }, Some(index)) => {
                self.steps[index].compensation = CompensationState::Retrying {
                    attempt: *attempt,
                    at: *at,
                };
            }
            (Event::CompensationRetryRequested { .. }, Some(index)) => {
                self.steps[index].compensation = CompensationState::NotStarted;
                self.status = InstanceStatus::Compensating;
            }
            (Event::CompensationSkipped { .. }, Some(index)) => {
                self.steps[index].compensation = CompensationState::Skipped;
                self.status = InstanceStatus::Compensating;
            }
            (Event::WorkflowCompleted { output }, _) => {
                self.status = InstanceStatus::Completed;
                self.output = Some(output.clone());
            }
            (Event::WorkflowFailed { error }, _) => {
                self.status = InstanceStatus::Failed;
                self.error = Some(error.clone());
            }
            (Event::WorkflowCompensated, _) => self.status = InstanceStatus::Compensated,
            (Event::WorkflowCompensationFailed { .. }, _) => {
                self.status = InstanceStatus::CompensationFailed;
            }
            (Event::WorkflowCancelled, _) => self.status = InstanceStatus::Cancelled,
            (Event::WorkflowSlaBreached { .. }, _) => self.sla_breached = true,
            // An event about a step the definition lacks cannot come from this
            // definition's decisions; it is counted and otherwise ignored.
            (_, None) => {}
        }
    }
}
