//! The tests' own reading of an instance's state, written apart from the
//! crate's so that a bug there cannot hide itself here.

use domain::definition::{OnError, StepKind, WorkflowDefinition};
use domain::instance::{CompensationState, SkipReason, StepStatus, Waiting, WorkflowInstance};

pub(crate) fn is_task(definition: &WorkflowDefinition, index: usize) -> bool {
    matches!(definition.steps[index].kind, StepKind::Task { .. })
}

/// A task attempt a worker may still answer.
pub(crate) fn in_flight(state: &WorkflowInstance, index: usize) -> bool {
    matches!(
        state.steps[index].status(),
        StepStatus::Scheduled | StepStatus::Running
    ) && is_task(&state.definition, index)
}

/// Completed, has a compensation, and not undone yet.
pub(crate) fn needs_undoing(state: &WorkflowInstance, index: usize) -> bool {
    state.steps[index].status() == StepStatus::Completed
        && state.definition.steps[index].compensate.is_some()
        && !matches!(
            state.steps[index].compensation,
            CompensationState::Completed | CompensationState::Skipped
        )
}

pub(crate) fn step_id(state: &WorkflowInstance, index: usize) -> domain::StepId {
    state.definition.steps[index].id.clone()
}

pub(crate) fn scheduled_compensations(state: &WorkflowInstance) -> Vec<(usize, u32)> {
    state
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| match step.compensation {
            CompensationState::Scheduled { attempt } => Some((index, attempt)),
            _ => None,
        })
        .collect()
}

pub(crate) fn waiting_approvals(state: &WorkflowInstance) -> Vec<usize> {
    if !state.status.is_active() {
        return Vec::new();
    }
    state
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| matches!(step.waiting(), Some(Waiting::Approval { .. })))
        .map(|(index, _)| index)
        .collect()
}

pub(crate) fn satisfies_needs(state: &WorkflowInstance, index: usize) -> bool {
    let step = &state.steps[index];
    match step.status() {
        StepStatus::Completed => true,
        StepStatus::Skipped => step.skip_reason() == Some(&SkipReason::Operator),
        StepStatus::Failed => state.definition.steps[index].on_error == OnError::Continue,
        _ => false,
    }
}

pub(crate) fn is_settled(state: &WorkflowInstance, index: usize) -> bool {
    state.steps[index].status() == StepStatus::Skipped || satisfies_needs(state, index)
}
