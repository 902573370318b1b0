//! Signals: a named event sent to an instance from outside (while it runs
//! or is paused). A signal is kept until a `signal` step waiting for its
//! name takes it, so one sent before the step is reached is not lost; each
//! is taken once, oldest first. A signal step's deadline fails or skips it.

use serde_json::Value;

use super::Transition;
use crate::definition::{SignalTimeout, StepKind};
use crate::instance::command::Actor;
use crate::instance::error::DomainError;
use crate::instance::event::{Event, FailureKind, SkipReason, TimeoutKind};
use crate::instance::step::Waiting;

impl Transition {
    pub fn signal(
        &mut self,
        name: &str,
        payload: &Value,
        actor: &Actor,
    ) -> Result<(), DomainError> {
        self.known_signal(name)?;
        let definition = self.state.definition.clone();
        let problems: Vec<String> = definition
            .steps
            .iter()
            .filter_map(|step| match &step.kind {
                StepKind::Signal {
                    name: awaited,
                    schema: Some(schema),
                    ..
                } if awaited == name => Some(schema.problems(payload)),
                _ => None,
            })
            .flatten()
            .collect();
        if !problems.is_empty() {
            return Err(DomainError::SignalRejected {
                name: name.to_owned(),
                problems,
            });
        }
        self.emit(Event::SignalReceived {
            name: name.to_owned(),
            payload: payload.clone(),
            by: actor.id.clone(),
        });
        self.deliver(name);
        Ok(())
    }

    /// Refuses a signal with `error`, or as unknown when no step waits for its name.
    pub fn refuse_signal(&self, name: &str, error: DomainError) -> Result<(), DomainError> {
        self.known_signal(name)?;
        Err(error)
    }

    fn known_signal(&self, name: &str) -> Result<(), DomainError> {
        let names = self.state.definition.signal_names();
        if names.contains(&name) {
            Ok(())
        } else {
            Err(DomainError::UnknownSignal {
                name: name.to_owned(),
                expected: names.into_iter().map(str::to_owned).collect(),
            })
        }
    }

    /// Hands the oldest kept signal of `name` to the first step waiting for it.
    pub fn deliver(&mut self, name: &str) {
        let definition = self.state.definition.clone();
        let waiting = definition.steps.iter().enumerate().find(|(index, step)| {
            matches!(&step.kind, StepKind::Signal { name: awaited, .. } if awaited == name)
                && matches!(
                    self.state.steps[*index].waiting(),
                    Some(Waiting::Signal { .. })
                )
        });
        let Some((index, step)) = waiting else { return };
        let Some(payload) = self
            .state
            .signals
            .iter()
            .find(|(kept, _)| kept == name)
            .map(|(_, payload)| Value::clone(payload))
        else {
            return;
        };
        self.emit(Event::SignalConsumed {
            step: step.id.clone(),
            name: name.to_owned(),
        });
        self.emit(Event::StepCompleted {
            step: step.id.clone(),
            attempt: self.state.steps[index].attempt,
            output: payload,
        });
    }

    pub fn signal_deadline(&mut self, index: usize, attempt: u32) {
        let state = &self.state.steps[index];
        let definition = &self.state.definition.steps[index];
        let StepKind::Signal { on_timeout, .. } = &definition.kind else {
            return;
        };
        if state.attempt != attempt || !matches!(state.waiting(), Some(Waiting::Signal { .. })) {
            return;
        }
        match on_timeout {
            SignalTimeout::Fail => {
                self.attempt_failed(index, attempt, FailureKind::TimedOut(TimeoutKind::Signal));
            }
            SignalTimeout::Skip => {
                let step = definition.id.clone();
                self.emit(Event::StepSkipped {
                    step,
                    reason: SkipReason::TimedOut,
                    output: None,
                });
            }
        }
    }
}
