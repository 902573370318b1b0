//! The world: what it did so far, performing an action and checking what
//! it decided, and driving a run to its end.

use std::fmt::Write as _;
use std::sync::Arc;

use domain::definition::WorkflowDefinition;
use domain::instance::{Command, DecisionContext, InstanceStatus, Timer, WorkflowInstance, decide};
use domain::testkit::{Harness, describe};
use proptest::sample::Index;
use serde_json::{Value, json};

use crate::cases::{Category, Choice, Weights};
use crate::oracle::in_flight;

/// The loop bound: a run that has not ended after this many world actions fails.
const MAX_ITERATIONS: usize = 2_000;

/// The item `target` selects; the first one without a target.
pub(crate) fn pick<T: Copy>(items: &[T], target: impl Into<Option<Index>>) -> Option<T> {
    let position = target
        .into()
        .map_or(0, |target| target.index(items.len().max(1)));
    items.get(position).copied()
}

pub(crate) struct World {
    pub(crate) h: Harness,
    /// Result commands that were accepted (decided events): their repeats are duplicates.
    pub(crate) delivered: Vec<Command>,
    /// Approvals and rejections that were accepted: their repeats are refused.
    pub(crate) decisions: Vec<Command>,
    /// Timers fired so far: firing one again is a duplicate.
    pub(crate) fired: Vec<Timer>,
    /// Every command issued, for the failure report.
    pub(crate) trace: Vec<String>,
    pub(crate) outputs: u64,
    pub(crate) weights: Weights,
}

/// A distinct output for each completion.
pub(crate) fn next_output(outputs: &mut u64) -> Value {
    *outputs += 1;
    json!({ "n": *outputs })
}

/// What one world action is.
pub(crate) enum Action {
    /// Must be accepted and decide at least one event.
    Live(Command),
    /// Must be accepted (an operator command, an approval, a timer).
    Accepted(Command),
    /// Must decide no events.
    Ignored(Command),
    /// Must be refused (and so change nothing).
    Refused(Command),
    FireNextTimer,
}

impl World {
    pub(crate) fn new(definition: Arc<WorkflowDefinition>) -> Self {
        Self {
            h: Harness::new(definition),
            delivered: Vec::new(),
            decisions: Vec::new(),
            fired: Vec::new(),
            trace: Vec::new(),
            outputs: 0,
            weights: [1; 18],
        }
    }

    pub(crate) fn state(&self) -> &WorkflowInstance {
        &self.h.state
    }

    pub(crate) fn report(&self, yaml: &str, input: &Value) -> String {
        let mut text = format!("input: {input}\n---\n{yaml}---\ncommands:\n");
        for line in &self.trace {
            let _ = writeln!(text, "  {line}");
        }
        let _ = writeln!(text, "history:");
        for event in &self.h.history {
            let _ = writeln!(text, "  {}", describe(event));
        }
        let _ = writeln!(text, "status: {}", self.state().status);
        text
    }

    /// Performs an action, checking what it decided.
    pub(crate) fn perform(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::FireNextTimer => {
                let timer = self.h.timers[0].1.clone();
                self.trace.push(format!("fire {timer:?}"));
                let context = DecisionContext::new(self.h.now.max(self.h.timers[0].0), 0);
                // The harness refuses nothing here: a timer always decides Ok.
                decide(&self.h.state, &Command::FireTimer(timer.clone()), context)
                    .map_err(|error| format!("timer {timer:?} was refused: {error}"))?;
                self.h.fire_next_timer();
                self.fired.push(timer);
            }
            Action::Live(command) => {
                self.trace.push(format!("{command:?}"));
                let events = self
                    .h
                    .when(command.clone())
                    .map_err(|error| format!("{command:?} was refused: {error}"))?;
                if events.is_empty() {
                    return Err(format!("{command:?} is live but decided nothing"));
                }
                if is_result(&command) {
                    self.delivered.push(command);
                } else if matches!(command, Command::Approve { .. } | Command::Reject { .. }) {
                    self.decisions.push(command);
                }
            }
            Action::Accepted(command) => {
                self.trace.push(format!("{command:?}"));
                self.h
                    .when(command.clone())
                    .map_err(|error| format!("{command:?} was refused: {error}"))?;
            }
            Action::Ignored(command) => {
                self.trace.push(format!("{command:?} (duplicate/stale)"));
                self.expect_nothing(&command)?;
            }
            Action::Refused(command) => {
                self.trace.push(format!("{command:?} (duplicate, refused)"));
                let context = DecisionContext::new(self.h.now, self.h.entropy);
                if let Ok(events) = decide(&self.h.state, &command, context) {
                    return Err(format!(
                        "property 5: duplicate {command:?} was accepted, deciding {:?}",
                        events.iter().map(describe).collect::<Vec<_>>()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Property 5: a duplicate, stale or re-fired command decides no events.
    pub(crate) fn expect_nothing(&mut self, command: &Command) -> Result<(), String> {
        let context = DecisionContext::new(self.h.now, self.h.entropy);
        match decide(&self.h.state, command, context) {
            Ok(events) if events.is_empty() => Ok(()),
            Ok(events) => Err(format!(
                "duplicate/stale {command:?} decided {:?}",
                events.iter().map(describe).collect::<Vec<_>>()
            )),
            Err(error) => Err(format!("duplicate/stale {command:?} was refused: {error}")),
        }
    }
}

fn is_result(command: &Command) -> bool {
    matches!(
        command,
        Command::CompleteStep { .. }
            | Command::FailStep { .. }
            | Command::RecordStepStarted { .. }
            | Command::CompleteCompensation { .. }
            | Command::FailCompensation { .. }
    )
}

/// Drives a run to its end; returns the world, or the reason it failed.
pub(crate) fn drive(
    definition: Arc<WorkflowDefinition>,
    input: Value,
    weights: Weights,
    choices: &[Choice],
) -> (World, Result<(), String>) {
    let mut world = World::new(definition);
    world.weights = weights;
    let outcome = drive_world(&mut world, input, choices);
    (world, outcome)
}

fn drive_world(world: &mut World, input: Value, choices: &[Choice]) -> Result<(), String> {
    world.trace.push(format!("StartWorkflow {input}"));
    world
        .h
        .when(Command::StartWorkflow {
            input,
            started_by: "test".to_owned(),
            start_at: None,
        })
        .map_err(|error| format!("the start was refused: {error}"))?;
    let mut iterations = 0;
    loop {
        if iterations == MAX_ITERATIONS {
            return Err(format!(
                "property 1: no final state after {MAX_ITERATIONS} actions"
            ));
        }
        let choice = choices.get(iterations).copied();
        iterations += 1;
        // A failed instance still records what its steps in flight report:
        // the world goes on answering them.
        let state = world.state();
        let over = state.status.is_final()
            && !(state.status == InstanceStatus::Failed
                && (0..state.steps.len()).any(|index| in_flight(state, index)));
        let action = if over {
            // An operator may bring a failed instance back (half of the
            // time, when a choice is left); else the run is over.
            let operator = choice
                .filter(|choice| choice.kind.is_multiple_of(2))
                .map(|choice| {
                    let category = if choice.flag {
                        Category::OperatorRetry
                    } else {
                        Category::OperatorSkip
                    };
                    world.operator(category, choice.target)
                });
            match operator.flatten() {
                Some(
                    action @ Action::Accepted(Command::RetryStep { .. } | Command::SkipStep { .. }),
                ) => Some(action),
                _ => break,
            }
        } else {
            match choice {
                Some(choice) => match world.chosen(choice) {
                    Some(action) => Some(action),
                    None => world.benign(Some(choice.target)),
                },
                None => world.benign(None),
            }
        };
        let Some(action) = action else {
            return Err(format!(
                "property 1: stuck in {} with nothing left to do",
                world.state().status
            ));
        };
        world.perform(action)?;
    }
    // After the end: every duplicate, stale delivery and timer is ignored.
    let leftovers: Vec<Command> = world
        .delivered
        .iter()
        .cloned()
        .chain(world.fired.iter().cloned().map(Command::FireTimer))
        .chain(
            world
                .h
                .timers
                .iter()
                .map(|(_, timer)| Command::FireTimer(timer.clone())),
        )
        .collect();
    for command in leftovers {
        world.expect_nothing(&command)?;
    }
    Ok(())
}
