//! What workers report: started, completed, failed — for steps and for
//! compensations — and what a failed attempt leads to (a retry, or the
//! step's `on_error`). A report for another attempt or a settled step is a
//! duplicate or stale delivery and decides nothing.

use serde_json::Value;

use super::Transition;
use chrono::{DateTime, Utc};

use crate::definition::{OnError, RetryPolicy};
use crate::expression::limits;
use crate::ids::StepId;
use crate::instance::backoff::retry_delay;
use crate::instance::effects::TaskKind;
use crate::instance::error::DomainError;
use crate::instance::event::{CompensationCause, Event, FailureKind, StepError, TimeoutKind};
use crate::instance::step::{CompensationState, StepStatus};

/// What a worker reports about an attempt.
pub(crate) enum Report<'a> {
    Started(&'a str),
    Completed(&'a Value),
    Failed(&'a StepError),
}

impl Transition {
    /// When the attempt after `attempt` runs, if the policy allows one;
    /// `salt` keeps the jitter of different steps apart.
    fn next_try(
        &self,
        policy: &RetryPolicy,
        attempt: u32,
        retryable: bool,
        salt: u64,
    ) -> Option<DateTime<Utc>> {
        (retryable && attempt < policy.max_attempts)
            .then(|| self.after(retry_delay(policy, attempt, self.context.entropy ^ salt)))
    }

    /// Whether a worker's report is about the attempt in flight (the
    /// instance admits results: see [`Transition::handle`]).
    fn attempt_is_live(&self, index: usize, attempt: u32) -> bool {
        self.state.is_in_flight(index) && self.state.steps[index].attempt == attempt
    }

    /// Whether a worker's report is about the compensation attempt in flight
    /// (the instance is compensating: see [`Transition::handle`]).
    fn compensation_is_live(&self, index: usize, attempt: u32) -> bool {
        self.state.steps[index].compensation == CompensationState::Scheduled { attempt }
    }

    /// A worker's report about an attempt of a step or of its
    /// compensation; a stale or duplicate one decides nothing.
    #[rustfmt::skip]
    pub fn report(
        &mut self,
        task: TaskKind,
        step: &StepId,
        attempt: u32,
        report: Report<'_>,
    ) -> Result<(), DomainError> {
        use TaskKind::{Compensation, Forward};
        let index = self.step_index(step)?;
        let live = match task {
            Forward => self.attempt_is_live(index, attempt),
            Compensation => self.compensation_is_live(index, attempt),
        };
        if !live {
            return Ok(());
        }
        let step = step.clone();
        let oversized = match report {
            Report::Completed(output) => limits::oversized("the output", output).map(StepError::permanent),
            Report::Failed(error) => limits::oversized_text("the error message", &error.message).map(|message| StepError { message, ..error.clone() }),
            Report::Started(_) => None,
        };
        let report = match &oversized {
            Some(error) => Report::Failed(error),
            None => report,
        };
        match (task, report) {
            (Forward, Report::Started(worker))        => self.started(index, attempt, worker),
            (Forward, Report::Completed(output))      => self.emit(Event::StepCompleted { step, attempt, output: output.clone() }),
            (Forward, Report::Failed(error))          => self.attempt_failed(index, attempt, FailureKind::Failed(error.clone())),
            (Compensation, Report::Started(_))        => {}
            (Compensation, Report::Completed(output)) => self.emit(Event::CompensationCompleted { step, attempt, output: output.clone() }),
            (Compensation, Report::Failed(error))     => self.compensation_attempt_failed(index, attempt, error.clone()),
        }
        Ok(())
    }

    /// A worker took the attempt: recorded once, while it is still scheduled.
    fn started(&mut self, index: usize, attempt: u32, worker: &str) {
        if self.state.steps[index].status() != StepStatus::Scheduled {
            return;
        }
        let definition = &self.state.definition.steps[index];
        let heartbeat_due = definition
            .heartbeat_timeout
            .map(|timeout| self.after(timeout));
        self.emit(Event::StepStarted {
            step: definition.id.clone(),
            attempt,
            worker: worker.to_owned(),
            heartbeat_due,
        });
    }

    /// Records a failed attempt, then retries it or fails the step for good.
    /// While compensating nothing is retried: the failure is only recorded.
    pub fn attempt_failed(&mut self, index: usize, attempt: u32, failure: FailureKind) {
        let step = self.state.definition.steps[index].id.clone();
        // A person's silence does not change by asking again.
        let retryable = match &failure {
            FailureKind::Failed(error) => error.retryable,
            FailureKind::TimedOut(kind) => {
                !matches!(kind, TimeoutKind::Approval | TimeoutKind::Signal)
            }
        };
        match failure {
            FailureKind::Failed(error) => self.emit(Event::StepFailed {
                step: step.clone(),
                attempt,
                error,
            }),
            FailureKind::TimedOut(timeout) => self.emit(Event::StepTimedOut {
                step: step.clone(),
                attempt,
                timeout,
            }),
        }
        // Compensating or failed: record only. A failed instance's operator
        // retry finds the failure and applies `on_error` then (see `advance`).
        if !self.state.status.is_active() {
            return;
        }
        let policy = self.state.definition.steps[index].retry;
        if let Some(at) = self.next_try(&policy, attempt, retryable, index as u64) {
            self.emit(Event::StepRetryScheduled {
                step,
                attempt: attempt + 1,
                at,
            });
            return;
        }
        self.step_failed_for_good(index);
    }

    /// Applies the step's `on_error` to a terminal failure.
    pub fn step_failed_for_good(&mut self, index: usize) {
        let definition = &self.state.definition.steps[index];
        let step = definition.id.clone();
        match definition.on_error {
            OnError::Continue => {}
            OnError::Fail => {
                let reason = self.state.steps[index].error_message().unwrap_or_default();
                self.emit(Event::WorkflowFailed {
                    error: format!("step `{step}` failed: {reason}"),
                });
            }
            OnError::Compensate => self.emit(Event::CompensationStarted {
                cause: CompensationCause::StepFailed { step },
            }),
        }
    }

    pub fn compensation_attempt_failed(&mut self, index: usize, attempt: u32, error: StepError) {
        let step = self.state.definition.steps[index].id.clone();
        let retryable = error.retryable;
        self.emit(Event::CompensationFailed {
            step: step.clone(),
            attempt,
            error,
        });
        let Some(compensation) = &self.state.definition.steps[index].compensate else {
            return;
        };
        let policy = compensation.retry;
        if let Some(at) = self.next_try(&policy, attempt, retryable, !(index as u64)) {
            self.emit(Event::CompensationRetryScheduled {
                step,
                attempt: attempt + 1,
                at,
            });
        }
    }
}
