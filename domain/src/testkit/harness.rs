//! A given/when/then driver for the aggregate: holds an instance, a fake
//! "now" and the timers its events set, and describes events compactly so
//! tests can assert exact sequences. Pure like the rest of the crate.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::definition::{WorkflowDefinition, parse_workflow};
use crate::ids::{InstanceId, StepId};
use crate::instance::effects::timers_of;
use crate::instance::{
    Actor, Command, DecisionContext, DomainError, Event, StepError, StepState, Timer,
    WorkflowInstance, decide,
};

#[derive(Debug)]
pub struct Harness {
    pub state: WorkflowInstance,
    pub now: DateTime<Utc>,
    pub entropy: u64,
    /// Every event decided so far, in order.
    pub history: Vec<Event>,
    /// Timers set and not yet fired, in due order.
    pub timers: Vec<(DateTime<Utc>, Timer)>,
}

/// The instance every harness drives.
pub const INSTANCE: InstanceId =
    InstanceId(Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef));

/// A harness' "now" before its clock moves: 2026-01-01T00:00:00Z.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

impl Harness {
    pub fn new(definition: Arc<WorkflowDefinition>) -> Self {
        Self {
            state: WorkflowInstance::new(INSTANCE, definition),
            now: epoch(),
            entropy: 7,
            history: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Parses a definition; panics with the problems when it is invalid.
    pub fn from_yaml(source: &str) -> Self {
        match parse_workflow(source) {
            Ok(definition) => Self::new(Arc::new(definition)),
            Err(problems) => panic!("invalid test workflow:\n{problems}"),
        }
    }

    /// Starts from a history (see [`super::histories`]), as if the
    /// instance had decided it: its state, history and timers follow.
    pub fn given(mut self, history: Vec<Event>) -> Self {
        self.record(&history);
        self
    }

    /// Decides and applies a command; returns the events it decided.
    pub fn when(&mut self, command: Command) -> Result<Vec<Event>, DomainError> {
        let context = DecisionContext::new(self.now, self.entropy);
        let events = decide(&self.state, &command, context)?;
        self.record(&events);
        Ok(events)
    }

    fn record(&mut self, events: &[Event]) {
        for event in events {
            self.state.apply(event);
            for (timer, due) in timers_of(event) {
                self.timers.push((due, timer));
            }
        }
        self.timers.sort_by_key(|(due, _)| *due);
        self.history.extend(events.iter().cloned());
    }

    /// Like [`Self::when`], describing the events; panics on a refusal.
    pub fn then(&mut self, command: Command) -> Vec<String> {
        match self.when(command.clone()) {
            Ok(events) => events.iter().map(describe).collect(),
            Err(error) => panic!("{command:?} was refused: {error}"),
        }
    }

    pub fn start(&mut self, input: Value) -> Vec<String> {
        self.then(Command::StartWorkflow {
            input,
            started_by: "test".to_owned(),
            start_at: None,
        })
    }

    /// The state of a step; panics when the definition has no such step.
    pub fn step(&self, step: &str) -> &StepState {
        let index = self
            .state
            .definition
            .step_index(step)
            .unwrap_or_else(|| panic!("no step {step}"));
        &self.state.steps[index]
    }

    pub fn attempt(&self, step: &str) -> u32 {
        self.step(step).attempt
    }

    pub fn complete(&mut self, step: &str, output: Value) -> Vec<String> {
        self.then(Command::CompleteStep {
            step: StepId::from(step),
            attempt: self.attempt(step),
            output,
        })
    }

    /// Fails the attempt in flight with "`step` broke".
    pub fn fail(&mut self, step: &str, retryable: bool) -> Vec<String> {
        self.then(Command::FailStep {
            step: StepId::from(step),
            attempt: self.attempt(step),
            error: broke(format!("{step} broke"), retryable),
        })
    }

    pub fn compensation_attempt(&self, step: &str) -> u32 {
        self.step(step).compensation_attempt
    }

    pub fn complete_compensation(&mut self, step: &str) -> Vec<String> {
        self.then(Command::CompleteCompensation {
            step: StepId::from(step),
            attempt: self.compensation_attempt(step),
            output: Value::Null,
        })
    }

    /// Fails the compensation attempt in flight with "undo `step` broke".
    pub fn fail_compensation(&mut self, step: &str, retryable: bool) -> Vec<String> {
        self.then(Command::FailCompensation {
            step: StepId::from(step),
            attempt: self.compensation_attempt(step),
            error: broke(format!("undo {step} broke"), retryable),
        })
    }

    pub fn approve(&mut self, step: &str, actor: &Actor) -> Result<Vec<Event>, DomainError> {
        self.when(Command::Approve {
            step: StepId::from(step),
            actor: actor.clone(),
            comment: None,
        })
    }

    /// Moves the clock to the next timer and fires it.
    pub fn fire_next_timer(&mut self) -> Option<Vec<String>> {
        let timer = self.next_timer()?;
        Some(self.then(Command::FireTimer(timer)))
    }

    /// Takes the next timer off the list and moves the clock to its due time.
    pub fn next_timer(&mut self) -> Option<Timer> {
        if self.timers.is_empty() {
            return None;
        }
        let (due, timer) = self.timers.remove(0);
        self.now = self.now.max(due);
        Some(timer)
    }

    pub fn advance_clock(&mut self, by: Duration) {
        self.now += by;
    }

    /// The history described.
    pub fn described_history(&self) -> Vec<String> {
        self.history.iter().map(describe).collect()
    }
}

fn broke(message: String, retryable: bool) -> StepError {
    StepError { message, retryable }
}

/// `Type step#attempt`, or just the type for instance-level events.
pub fn describe(event: &Event) -> String {
    event.summary()
}
