//! What the example tests share: reading an example, and short forms of the
//! commands and reads they repeat.

use std::sync::Arc;

use domain::instance::{Actor, Command, Event, InstanceStatus, StepStatus};
use domain::parse_workflow;
use domain::testkit::{Harness, describe};
use serde_json::Value;

/// Reads and validates an example; panics with its problems when it is invalid.
pub(crate) fn harness(file: &str) -> Harness {
    let path = format!("{}/../workflows/{file}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    match parse_workflow(&source) {
        Ok(definition) => Harness::new(Arc::new(definition)),
        Err(problems) => panic!("{path} is invalid:\n{problems}"),
    }
}

/// The step ids in the definition's (topological) order.
pub(crate) fn step_ids(h: &Harness) -> Vec<&str> {
    h.state
        .definition
        .steps
        .iter()
        .map(|step| step.id.as_str())
        .collect()
}

pub(crate) fn status(h: &Harness, step: &str) -> StepStatus {
    let index = h.state.definition.step_index(step).expect("a step");
    h.state.steps[index].status()
}

pub(crate) fn approve(h: &mut Harness, step: &str, actor: &Actor) -> Vec<String> {
    match h.approve(step, actor) {
        Ok(events) => events.iter().map(describe).collect(),
        Err(error) => panic!("{} may not approve {step}: {error}", actor.id),
    }
}

pub(crate) fn reject(h: &mut Harness, step: &str, actor: &Actor, comment: &str) -> Vec<String> {
    h.then(Command::Reject {
        step: step.into(),
        actor: actor.clone(),
        comment: Some(comment.to_owned()),
    })
}

/// Completes the undo of `step`, the last one to undo: the workflow ends
/// compensated.
pub(crate) fn undo_last(h: &mut Harness, step: &str) {
    let attempt = h.compensation_attempt(step);
    assert_eq!(
        h.complete_compensation(step),
        [
            format!("CompensationCompleted {step}#{attempt}"),
            "WorkflowCompensated".to_owned()
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
}

pub(crate) fn fire_next_timer(h: &mut Harness) -> Vec<String> {
    h.fire_next_timer().expect("a timer is set")
}

/// What the last `StepScheduled` of `step` asked of its worker.
pub(crate) fn scheduled_input(h: &Harness, step: &str) -> Value {
    last_input(h, step, false).unwrap_or_else(|| panic!("{step} was never scheduled"))
}

/// What the last `CompensationScheduled` of `step` asked of its worker.
pub(crate) fn compensation_input(h: &Harness, step: &str) -> Value {
    last_input(h, step, true).unwrap_or_else(|| panic!("{step} was never compensated"))
}

fn last_input(h: &Harness, step: &str, compensation: bool) -> Option<Value> {
    h.history
        .iter()
        .rev()
        .find_map(|event| match (event, compensation) {
            (
                Event::StepScheduled {
                    step: id, input, ..
                },
                false,
            )
            | (
                Event::CompensationScheduled {
                    step: id, input, ..
                },
                true,
            ) if id.as_str() == step => Some(input.clone()),
            _ => None,
        })
}
