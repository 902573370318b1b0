//! `evolve`: applies one event to the state. It records facts and holds no
//! rules; whatever needed deciding was decided before the event was written.

use std::sync::Arc;

use super::event::{Event, FailureKind, SkipReason};
use super::state::{InstanceStatus, WorkflowInstance};
use super::step::{CompensationState, StepPhase, StepState, Waiting};

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
            (
                Event::WorkflowStarted {
                    input, start_at, ..
                },
                _,
            ) => {
                self.status = match start_at {
                    Some(_) => InstanceStatus::Scheduled,
                    None => InstanceStatus::Running,
                };
                self.input = Arc::new(input.clone());
            }
            (Event::ScheduledStartReached, _) => self.status = InstanceStatus::Running,
            (Event::WorkflowPaused, _) => self.status = InstanceStatus::Paused,
            (Event::WorkflowResumed, _) => self.status = InstanceStatus::Running,
            (Event::CancellationRequested { compensate }, _) => {
                self.cancel_requested = *compensate;
            }
            (Event::CompensationStarted { cause }, _) => {
                self.status = InstanceStatus::Compensating;
                self.cause = Some(cause.clone());
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
            (Event::ApprovalGranted { .. } | Event::ApprovalRejected { .. }, _) => {}
            (Event::SignalReceived { name, payload, .. }, _) => {
                self.signals.push((name.clone(), Arc::new(payload.clone())));
            }
            (Event::SignalConsumed { name, .. }, _) => {
                if let Some(kept) = self.signals.iter().position(|(kept, _)| kept == name) {
                    self.signals.remove(kept);
                }
            }
            (Event::StepSkipped { reason, .. }, Some(index)) => {
                self.steps[index].apply(event);
                if *reason == SkipReason::Operator && self.status == InstanceStatus::Failed {
                    self.status = InstanceStatus::Running;
                    self.error = None;
                }
            }
            (Event::StepRetryRequested { .. }, Some(index)) => {
                self.steps[index].apply(event);
                self.status = InstanceStatus::Running;
                self.error = None;
            }
            (
                Event::CompensationRetryRequested { .. } | Event::CompensationSkipped { .. },
                Some(index),
            ) => {
                self.steps[index].apply(event);
                self.status = InstanceStatus::Compensating;
            }
            (_, Some(index)) => self.steps[index].apply(event),
            // An event about a step the definition lacks cannot come from this
            // definition's decisions; it is counted and otherwise ignored.
            (_, None) => {}
        }
    }
}

impl StepState {
    /// Applies an event about this step.
    fn apply(&mut self, event: &Event) {
        match event {
            Event::StepScheduled {
                attempt, wake_at, ..
            } => {
                self.attempt = *attempt;
                self.phase = match wake_at {
                    Some(until) => StepPhase::Waiting(Waiting::Timer { until: *until }),
                    None => StepPhase::Scheduled,
                };
            }
            Event::StepStarted { worker, .. } => {
                self.phase = StepPhase::Running {
                    worker: worker.clone(),
                };
            }
            Event::StepCompleted {
                attempt, output, ..
            } => {
                self.attempt = *attempt;
                self.phase = StepPhase::Completed {
                    output: Arc::new(output.clone()),
                    worker: self.take_worker(),
                };
            }
            Event::StepFailed { attempt, error, .. } => {
                self.failed(*attempt, FailureKind::Failed(error.clone()));
            }
            Event::StepTimedOut {
                attempt, timeout, ..
            } => self.failed(*attempt, FailureKind::TimedOut(*timeout)),
            Event::StepRetryScheduled { attempt, at, .. } => {
                self.phase = StepPhase::Waiting(Waiting::Retry {
                    attempt: *attempt,
                    at: *at,
                    failure: self.take_failure(),
                });
            }
            Event::StepSkipped { reason, output, .. } => {
                self.phase = StepPhase::Skipped {
                    reason: reason.clone(),
                    output: output.clone().map(Arc::new),
                    failure: self.take_failure(),
                };
            }
            Event::StepRetryRequested { .. } => self.phase = StepPhase::Pending,
            Event::ApprovalRequested {
                attempt, due_at, ..
            } => {
                self.attempt = *attempt;
                self.phase = StepPhase::Waiting(Waiting::Approval { due_at: *due_at });
            }
            Event::SignalAwaited {
                attempt, due_at, ..
            } => {
                self.attempt = *attempt;
                self.phase = StepPhase::Waiting(Waiting::Signal { due_at: *due_at });
            }
            Event::CompensationScheduled { attempt, .. } => {
                self.compensation = CompensationState::Scheduled { attempt: *attempt };
                self.compensation_attempt = *attempt;
            }
            Event::CompensationCompleted { .. } => {
                self.compensation = CompensationState::Completed;
            }
            Event::CompensationFailed { attempt, .. } => {
                self.compensation = CompensationState::Failed { attempt: *attempt };
                self.compensation_attempt = *attempt;
            }
            Event::CompensationRetryScheduled { attempt, at, .. } => {
                self.compensation = CompensationState::Retrying {
                    attempt: *attempt,
                    at: *at,
                };
            }
            Event::CompensationRetryRequested { .. } => {
                self.compensation = CompensationState::NotStarted;
            }
            Event::CompensationSkipped { .. } => {
                self.compensation = CompensationState::Skipped;
            }
            _ => {}
        }
    }

    fn failed(&mut self, attempt: u32, failure: FailureKind) {
        self.attempt = attempt;
        self.phase = StepPhase::Failed {
            failure,
            worker: self.take_worker(),
        };
    }

    /// The worker of the attempt that ends now.
    fn take_worker(&mut self) -> Option<String> {
        match std::mem::take(&mut self.phase) {
            StepPhase::Running { worker } => Some(worker),
            _ => None,
        }
    }

    /// The failure a retry or a skip follows.
    fn take_failure(&mut self) -> Option<FailureKind> {
        match std::mem::take(&mut self.phase) {
            StepPhase::Failed { failure, .. } => Some(failure),
            StepPhase::Waiting(Waiting::Retry { failure, .. })
            | StepPhase::Skipped { failure, .. } => failure,
            _ => None,
        }
    }
}
