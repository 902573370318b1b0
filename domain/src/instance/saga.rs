//! Compensation order: a completed step is undone only after every step that
//! needed it (directly or not) has been undone or has nothing to undo, and
//! none of them is still running. Independent branches undo in parallel.

use super::state::WorkflowInstance;
use super::step::CompensationState;

/// Steps whose compensation may be scheduled now.
pub fn ready_to_undo(instance: &WorkflowInstance) -> Vec<usize> {
    (0..instance.steps.len())
        .filter(|&index| {
            instance.needs_undoing(index)
                && instance.steps[index].compensation == CompensationState::NotStarted
                && instance
                    .definition
                    .descendants(index)
                    .iter()
                    .all(|dependant| is_quiet(instance, dependant))
        })
        .collect()
}

/// Nothing more will happen to this step that its needs must wait for.
fn is_quiet(instance: &WorkflowInstance, index: usize) -> bool {
    !instance.is_in_flight(index) && !instance.needs_undoing(index)
}

/// A compensation is scheduled or waiting to retry.
pub fn any_compensation_in_flight(instance: &WorkflowInstance) -> bool {
    instance.steps.iter().any(|step| {
        matches!(
            step.compensation,
            CompensationState::Scheduled { .. } | CompensationState::Retrying { .. }
        )
    })
}
