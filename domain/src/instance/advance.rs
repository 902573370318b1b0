//! Moves an instance forward after any command until nothing more follows:
//! schedules ready steps (or skips them), runs engine-side steps, completes
//! the workflow, and drives compensation in saga order to a final state.

use chrono::DateTime;
use serde_json::{Value, json};

use super::decide::Transition;
use super::event::{CompensationCause, Event, FailureKind, SkipReason, StepError};
use super::saga;
use super::state::InstanceStatus;
use super::step::{StepStatus, Waiting};
use crate::definition::{Join, StepKind, WaitFor};
use crate::expression::Scope;

/// What the needs of a pending step say about it.
enum Readiness {
    NotYet,
    Ready,
    UpstreamSkipped(usize),
}

impl Transition {
    pub fn advance(&mut self) {
        self.handle_recorded_failures();
        while self.state.status == InstanceStatus::Running && self.schedule_ready() {}
        match self.state.status {
            InstanceStatus::Running => self.complete_if_settled(),
            InstanceStatus::Compensating => self.progress_compensation(),
            _ => {}
        }
    }

    /// A step that failed for good while the instance could not react (it had
    /// failed already) gets its `on_error` once the instance runs again.
    fn handle_recorded_failures(&mut self) {
        if self.state.status != InstanceStatus::Running {
            return;
        }
        let unhandled = (0..self.state.steps.len()).find(|&index| {
            self.state.steps[index].status() == StepStatus::Failed
                && !self.state.satisfies_needs(index)
        });
        if let Some(index) = unhandled {
            self.step_failed_for_good(index);
        }
    }

    /// One pass in topological order; true when anything was emitted.
    fn schedule_ready(&mut self) -> bool {
        let before = self.events.len();
        for index in 0..self.state.steps.len() {
            if self.state.status != InstanceStatus::Running {
                break;
            }
            let step = &self.state.steps[index];
            match (step.status(), step.waiting()) {
                (StepStatus::Pending, _) => self.consider(index),
                (StepStatus::Waiting, Some(Waiting::Retry { at, .. }))
                    if *at <= self.context.now =>
                {
                    self.start_step(index);
                }
                _ => {}
            }
        }
        self.events.len() > before
    }

    fn readiness(&self, index: usize) -> Readiness {
        let definition = &self.state.definition.steps[index];
        let skipped = |need: usize| {
            self.state.steps[need].status() == StepStatus::Skipped
                && !self.state.satisfies_needs(need)
        };
        match definition.join {
            Join::All => {
                if let Some(&need) = definition.needs.iter().find(|&&need| skipped(need)) {
                    return Readiness::UpstreamSkipped(need);
                }
                if definition
                    .needs
                    .iter()
                    .all(|&need| self.state.satisfies_needs(need))
                {
                    Readiness::Ready
                } else {
                    Readiness::NotYet
                }
            }
            Join::Any => {
                if !definition
                    .needs
                    .iter()
                    .all(|&need| self.state.is_settled(need))
                {
                    Readiness::NotYet
                } else if definition
                    .needs
                    .iter()
                    .any(|&need| self.state.satisfies_needs(need))
                {
                    Readiness::Ready
                } else {
                    match definition.needs.first() {
                        Some(&need) => Readiness::UpstreamSkipped(need),
                        None => Readiness::Ready,
                    }
                }
            }
        }
    }

    fn consider(&mut self, index: usize) {
        let step = self.state.definition.steps[index].id.clone();
        match self.readiness(index) {
            Readiness::NotYet => {}
            Readiness::UpstreamSkipped(need) => {
                let need = self.state.definition.steps[need].id.clone();
                self.emit(Event::StepSkipped {
                    step,
                    reason: SkipReason::UpstreamSkipped { need },
                    output: None,
                });
            }
            Readiness::Ready => {
                let condition = self.state.definition.steps[index].when.clone();
                match condition.map(|when| when.evaluate_condition(&self.state)) {
                    None | Some(Ok(true)) => self.start_step(index),
                    Some(Ok(false)) => {
                        self.emit(Event::StepSkipped {
                            step,
                            reason: SkipReason::ConditionFalse,
                            output: None,
                        });
                    }
                    Some(Err(error)) => {
                        let attempt = self.state.steps[index].attempt + 1;
                        let error = StepError::permanent(format!("`when` {error}"));
                        self.attempt_failed(index, attempt, FailureKind::Failed(error));
                    }
                }
            }
        }
    }

    /// Starts the next attempt of a step, by kind.
    pub fn start_step(&mut self, index: usize) {
        let definition = self.state.definition.clone();
        let step_definition = &definition.steps[index];
        let step = step_definition.id.clone();
        let attempt = self.state.steps[index].attempt + 1;
        let deadline = step_definition.timeout.map(|timeout| self.after(timeout));
        let scheduled = |input: Value, deadline, wake_at| Event::StepScheduled {
            step: step.clone(),
            attempt,
            input,
            idempotency_key: self.state.idempotency_key(index),
            deadline,
            wake_at,
        };
        match &step_definition.kind {
            StepKind::Task {
                input: template, ..
            }
            | StepKind::Http { request: template } => match template.render(&self.state) {
                Ok(input) => self.emit(scheduled(input, deadline, None)),
                Err(error) => self.attempt_failed(
                    index,
                    attempt,
                    FailureKind::Failed(StepError::permanent(error.to_string())),
                ),
            },
            StepKind::Approval { approvers, .. } => self.emit(Event::ApprovalRequested {
                step,
                attempt,
                approvers: approvers.clone(),
                due_at: deadline,
            }),
            StepKind::Signal { name, .. } => {
                self.emit(Event::SignalAwaited {
                    step,
                    attempt,
                    name: name.clone(),
                    due_at: deadline,
                });
                self.deliver(name);
            }
            StepKind::Wait(wait) => {
                let until = match wait {
                    WaitFor::Duration(duration) => Ok(self.after(*duration)),
                    WaitFor::Until(template) => template
                        .render(&self.state)
                        .map_err(|error| error.to_string())
                        .and_then(|value| parse_time(&value)),
                };
                match until {
                    Ok(until) => {
                        let event = scheduled(json!({ "until": until }), None, Some(until));
                        self.emit(event);
                        if until <= self.context.now {
                            self.finish_timed_step(index);
                        }
                    }
                    Err(message) => self.attempt_failed(
                        index,
                        attempt,
                        FailureKind::Failed(StepError::permanent(message)),
                    ),
                }
            }
            StepKind::Noop {
                duration: Some(duration),
                ..
            } => {
                let until = self.after(*duration);
                self.emit(scheduled(Value::Null, None, Some(until)));
            }
            StepKind::Noop { duration: None, .. } => {
                self.emit(scheduled(Value::Null, None, None));
                self.finish_timed_step(index);
            }
            StepKind::Fail { message } => {
                self.emit(scheduled(Value::Null, None, None));
                let message = match message.render(&self.state) {
                    Ok(Value::String(text)) => text,
                    Ok(other) => other.to_string(),
                    Err(error) => error.to_string(),
                };
                self.attempt_failed(
                    index,
                    attempt,
                    FailureKind::Failed(StepError::permanent(message)),
                );
            }
        }
    }

    /// Completes a step the engine runs itself (`noop`, `wait`).
    pub fn finish_timed_step(&mut self, index: usize) {
        let definition = self.state.definition.clone();
        let step = definition.steps[index].id.clone();
        let attempt = self.state.steps[index].attempt;
        let output = match &definition.steps[index].kind {
            StepKind::Noop {
                output: Some(template),
                ..
            } => template.render(&self.state),
            _ => Ok(json!({})),
        };
        match output {
            Ok(output) => self.emit(Event::StepCompleted {
                step,
                attempt,
                output,
            }),
            Err(error) => self.attempt_failed(
                index,
                attempt,
                FailureKind::Failed(StepError::permanent(error.to_string())),
            ),
        }
    }

    fn complete_if_settled(&mut self) {
        let settled = (0..self.state.steps.len()).all(|index| self.state.is_settled(index));
        if !settled {
            return;
        }
        let output = match &self.state.definition.output {
            Some(template) => template.render(&self.state),
            None => Ok(self.default_output()),
        };
        match output {
            Ok(output) => self.emit(Event::WorkflowCompleted { output }),
            Err(error) => {
                let cause = CompensationCause::OutputFailed {
                    message: error.to_string(),
                };
                self.emit(Event::CompensationStarted { cause });
                self.progress_compensation();
            }
        }
    }

    /// Without an `output:`, the outputs of the steps nothing else needs.
    fn default_output(&self) -> Value {
        let definition = &self.state.definition;
        let mut needed = vec![false; definition.steps.len()];
        for step in &definition.steps {
            for &need in &step.needs {
                needed[need] = true;
            }
        }
        let mut output = serde_json::Map::new();
        for (index, step) in definition.steps.iter().enumerate() {
            if !needed[index]
                && let Some((_, Some(value))) = self.state.step(step.id.as_str())
            {
                output.insert(step.id.to_string(), value.clone());
            }
        }
        Value::Object(output)
    }

    fn progress_compensation(&mut self) {
        loop {
            let ready = saga::ready_to_undo(&self.state);
            if ready.is_empty() {
                break;
            }
            for index in ready {
                self.schedule_compensation(index);
            }
        }
        let forward_in_flight =
            (0..self.state.steps.len()).any(|index| self.state.is_in_flight(index));
        if forward_in_flight || saga::any_compensation_in_flight(&self.state) {
            return;
        }
        let failed: Vec<_> = self
            .state
            .steps
            .iter()
            .zip(&self.state.definition.steps)
            .filter(|(state, _)| state.compensation_failed())
            .map(|(_, definition)| definition.id.clone())
            .collect();
        if !failed.is_empty() {
            self.emit(Event::WorkflowCompensationFailed { steps: failed });
        } else if self.state.cancel_requested
            || self.state.cause == Some(CompensationCause::Cancelled)
        {
            self.emit(Event::WorkflowCancelled);
        } else {
            self.emit(Event::WorkflowCompensated);
        }
    }

    pub fn schedule_compensation(&mut self, index: usize) {
        let definition = self.state.definition.clone();
        let Some(compensation) = &definition.steps[index].compensate else {
            return;
        };
        let step = definition.steps[index].id.clone();
        let attempt = self.state.steps[index].compensation_attempt + 1;
        match compensation.action.template().render(&self.state) {
            Ok(input) => {
                let deadline = compensation.timeout.map(|timeout| self.after(timeout));
                let idempotency_key = self.state.compensation_key(index);
                self.emit(Event::CompensationScheduled {
                    step,
                    attempt,
                    input,
                    idempotency_key,
                    deadline,
                });
            }
            Err(error) => {
                self.compensation_attempt_failed(
                    index,
                    attempt,
                    StepError::permanent(error.to_string()),
                );
            }
        }
    }
}

fn parse_time(value: &Value) -> Result<DateTime<chrono::Utc>, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("`until` must render to a time, got {value}"))?;
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.to_utc())
        .map_err(|error| format!("`until`: `{text}` is not an RFC 3339 time: {error}"))
}
