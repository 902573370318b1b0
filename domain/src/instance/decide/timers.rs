//! Timers firing: retry backoff over, attempt or heartbeat deadline passed,
//! approval deadline, a wait elapsed, the workflow's deadline or SLA, a
//! compensation's backoff or deadline. A timer that no longer applies (the
//! instance or the step moved on) decides nothing: timers are never cancelled.

use super::Transition;
use crate::definition::{ApprovalTimeout, StepKind};
use crate::instance::command::Timer;
use crate::instance::error::DomainError;
use crate::instance::event::{CompensationCause, Event, FailureKind, StepError, TimeoutKind};
use crate::instance::state::InstanceStatus;
use crate::instance::step::{CompensationState, StepStatus, Waiting};

impl Transition {
    /// Which timer applies in which instance status; the step's own state
    /// is checked by each handler. Reached only while the instance admits
    /// results (see [`Transition::handle`]).
    #[rustfmt::skip]
    pub fn fire(&mut self, timer: &Timer) -> Result<(), DomainError> {
        use InstanceStatus as S;
        use Timer as T;
        let index = timer.step().map(|step| self.step_index(step)).transpose()?;
        match (self.state.status, timer, index) {
            (S::Running, T::StepRetry { attempt, .. }, Some(index))                 => self.retry_due(index, *attempt),
            (_, T::StepDeadline { attempt, .. }, Some(index))                       => self.attempt_timed_out(index, *attempt, TimeoutKind::Attempt),
            (_, T::Heartbeat { attempt, .. }, Some(index))                          => self.attempt_timed_out(index, *attempt, TimeoutKind::Heartbeat),
            (s, T::ApprovalDeadline { attempt, .. }, Some(index)) if s.is_active()  => self.approval_deadline(index, *attempt),
            (s, T::Wake { attempt, .. }, Some(index)) if s != S::Compensating       => self.wake(index, *attempt),
            (s, T::SignalDeadline { attempt, .. }, Some(index)) if s.is_active()    => self.signal_deadline(index, *attempt),
            (s, T::WorkflowDeadline, _) if s.is_active()                            => self.emit(Event::CompensationStarted { cause: CompensationCause::WorkflowTimedOut }),
            (s, T::WorkflowSla, _) if !s.is_final()                                 => self.sla_ran_out(),
            (S::Compensating, T::CompensationRetry { attempt, .. }, Some(index))    => self.compensation_retry_due(index, *attempt),
            (S::Compensating, T::CompensationDeadline { attempt, .. }, Some(index)) => self.compensation_timed_out(index, *attempt),
            _ => {}
        }
        Ok(())
    }

    fn retry_due(&mut self, index: usize, attempt: u32) {
        if matches!(self.state.steps[index].waiting(), Some(Waiting::Retry { attempt: due, .. }) if *due == attempt)
        {
            self.start_step(index);
        }
    }

    /// The attempt's deadline, or its heartbeat (only once it runs).
    fn attempt_timed_out(&mut self, index: usize, attempt: u32, kind: TimeoutKind) {
        let state = &self.state.steps[index];
        let applies = self.state.is_in_flight(index)
            && state.attempt == attempt
            && (kind != TimeoutKind::Heartbeat || state.status() == StepStatus::Running);
        if applies {
            self.attempt_failed(index, attempt, FailureKind::TimedOut(kind));
        }
    }

    fn approval_deadline(&mut self, index: usize, attempt: u32) {
        let state = &self.state.steps[index];
        let definition = &self.state.definition.steps[index];
        let StepKind::Approval { on_timeout, .. } = &definition.kind else {
            return;
        };
        if state.attempt != attempt || !matches!(state.waiting(), Some(Waiting::Approval { .. })) {
            return;
        }
        match on_timeout {
            ApprovalTimeout::Reject => {
                self.attempt_failed(index, attempt, FailureKind::TimedOut(TimeoutKind::Approval));
            }
            ApprovalTimeout::Approve => {
                let step = definition.id.clone();
                self.grant(&step, attempt, "system:timeout", None);
            }
        }
    }

    fn wake(&mut self, index: usize, attempt: u32) {
        let state = &self.state.steps[index];
        if state.attempt == attempt && matches!(state.waiting(), Some(Waiting::Timer { .. })) {
            self.finish_timed_step(index);
        }
    }

    /// Recorded once per instance.
    fn sla_ran_out(&mut self) {
        if let Some(sla) = self
            .state
            .definition
            .sla
            .filter(|_| !self.state.sla_breached)
        {
            self.emit(Event::WorkflowSlaBreached {
                sla_seconds: sla.as_secs(),
            });
        }
    }

    fn compensation_retry_due(&mut self, index: usize, attempt: u32) {
        if matches!(self.state.steps[index].compensation, CompensationState::Retrying { attempt: due, .. } if due == attempt)
        {
            self.schedule_compensation(index);
        }
    }

    fn compensation_timed_out(&mut self, index: usize, attempt: u32) {
        if self.state.steps[index].compensation == (CompensationState::Scheduled { attempt }) {
            self.compensation_attempt_failed(
                index,
                attempt,
                StepError::retryable("the compensation attempt timed out"),
            );
        }
    }
}
