//! Properties 2, 3, 4 and 6, checked on a finished run's history.

use domain::definition::Join;
use domain::instance::{
    CompensationState, Event, InstanceStatus, SkipReason, StepStatus, WorkflowInstance, evolve,
};
use domain::testkit::describe;

use crate::oracle::{in_flight, is_settled, needs_undoing, satisfies_needs};
use crate::world::World;

pub(crate) fn check_history(world: &World) -> Result<(), String> {
    let h = &world.h;
    let definition = h.state.definition.clone();
    let history = &h.history;

    // Property 6: JSON round trip.
    for event in history {
        let text = serde_json::to_string(event).map_err(|error| error.to_string())?;
        let back: Event = serde_json::from_str(&text)
            .map_err(|error| format!("property 6: {text} does not read back: {error}"))?;
        if &back != event {
            return Err(format!("property 6: {text} reads back as {back:?}"));
        }
    }

    // When each step's compensation completed, if it did.
    let mut undone_at: Vec<Option<usize>> = vec![None; definition.steps.len()];
    for (position, event) in history.iter().enumerate() {
        if let Event::CompensationCompleted { step, .. } | Event::CompensationSkipped { step } =
            event
        {
            let index = definition.step_index(step.as_str()).unwrap_or(usize::MAX);
            undone_at[index].get_or_insert(position);
        }
    }

    let mut replay = WorkflowInstance::new(h.state.id, definition.clone());
    let mut compensations_completed = vec![0u32; definition.steps.len()];
    // Operator retries allow one attempt more than the policy each.
    let mut step_retries = vec![0u32; definition.steps.len()];
    let mut compensation_retries = vec![0u32; definition.steps.len()];
    for (position, event) in history.iter().enumerate() {
        let index = event
            .step()
            .and_then(|step| definition.step_index(step.as_str()));
        let at = || format!("at event {position} ({})", describe(event));
        // After a final event: an operator's retry or skip, or (in a failed
        // instance) the outcome of a step still in flight.
        if replay.status.is_final() {
            let revival = matches!(
                event,
                Event::StepRetryRequested { .. }
                    | Event::CompensationRetryRequested { .. }
                    | Event::CompensationSkipped { .. }
                    | Event::StepSkipped {
                        reason: SkipReason::Operator,
                        ..
                    }
            );
            let outcome = matches!(
                event,
                Event::StepStarted { .. }
                    | Event::StepCompleted { .. }
                    | Event::StepFailed { .. }
                    | Event::StepTimedOut { .. }
            ) && replay.status == InstanceStatus::Failed
                && index.is_some_and(|index| in_flight(&replay, index));
            if !revival && !outcome {
                return Err(format!("{} after the instance was {}", at(), replay.status));
            }
        }
        match (event, index) {
            (Event::StepRetryRequested { .. }, Some(index)) => step_retries[index] += 1,
            (Event::CompensationRetryRequested { .. }, Some(index)) => {
                compensation_retries[index] += 1;
            }
            // Property 2: scheduled only when the needs are settled, by the join.
            (
                Event::StepScheduled { attempt, .. } | Event::ApprovalRequested { attempt, .. },
                Some(index),
            ) => {
                let bound = definition.steps[index].retry.max_attempts + step_retries[index];
                next_attempt(*attempt, replay.steps[index].attempt, bound)
                    .map_err(|problem| format!("{}: {problem}", at()))?;
                if replay.status != InstanceStatus::Running {
                    return Err(format!(
                        "property 2: {} scheduled while {}",
                        at(),
                        replay.status
                    ));
                }
                let step = &definition.steps[index];
                let ready = match step.join {
                    Join::All => step
                        .needs
                        .iter()
                        .all(|&need| satisfies_needs(&replay, need)),
                    Join::Any => {
                        step.needs.iter().all(|&need| is_settled(&replay, need))
                            && step
                                .needs
                                .iter()
                                .any(|&need| satisfies_needs(&replay, need))
                    }
                };
                if !ready {
                    let needs: Vec<String> = step
                        .needs
                        .iter()
                        .map(|&need| {
                            format!(
                                "{}={}",
                                definition.steps[need].id,
                                replay.steps[need].status()
                            )
                        })
                        .collect();
                    return Err(format!(
                        "property 2: {} before its needs were settled: {}",
                        at(),
                        needs.join(", ")
                    ));
                }
            }
            (
                Event::StepSkipped {
                    reason: SkipReason::UpstreamSkipped { need },
                    ..
                },
                Some(index),
            ) => {
                let need_index = definition.step_index(need.as_str());
                let valid = need_index.is_some_and(|need| {
                    definition.steps[index].needs.contains(&need)
                        && replay.steps[need].status() == StepStatus::Skipped
                });
                if !valid {
                    return Err(format!(
                        "property 2: {} names a need that was not skipped",
                        at()
                    ));
                }
            }
            // Property 3: only completed steps, in saga order.
            (Event::CompensationScheduled { attempt, .. }, Some(index)) => {
                let policy = definition.steps[index].compensate.as_ref().map(|c| c.retry);
                let bound =
                    policy.map_or(0, |policy| policy.max_attempts) + compensation_retries[index];
                next_attempt(*attempt, replay.steps[index].compensation_attempt, bound)
                    .map_err(|problem| format!("property 3: {}: {problem}", at()))?;
                if replay.status != InstanceStatus::Compensating {
                    return Err(format!("property 3: {} while {}", at(), replay.status));
                }
                if !needs_undoing(&replay, index) {
                    return Err(format!(
                        "property 3: {} but the step is {} ({:?})",
                        at(),
                        replay.steps[index].status(),
                        replay.steps[index].compensation
                    ));
                }
                for dependant in definition.descendants(index).iter() {
                    let name = &definition.steps[dependant].id;
                    if in_flight(&replay, dependant) || needs_undoing(&replay, dependant) {
                        return Err(format!(
                            "property 3: {} while its dependant {name} is {} ({:?})",
                            at(),
                            replay.steps[dependant].status(),
                            replay.steps[dependant].compensation
                        ));
                    }
                    if undone_at[dependant].is_some_and(|undone| undone > position) {
                        return Err(format!(
                            "property 3: {} before its dependant {name} was undone",
                            at()
                        ));
                    }
                }
            }
            (Event::CompensationCompleted { .. }, Some(index)) => {
                compensations_completed[index] += 1;
                if compensations_completed[index] > 1 {
                    return Err(format!("property 3: {} a second time", at()));
                }
                if !matches!(
                    replay.steps[index].compensation,
                    CompensationState::Scheduled { .. }
                ) {
                    return Err(format!(
                        "property 3: {} but it was {:?}",
                        at(),
                        replay.steps[index].compensation
                    ));
                }
            }
            (Event::WorkflowCompensated, _) => {
                let left: Vec<String> = (0..definition.steps.len())
                    .filter(|&index| needs_undoing(&replay, index))
                    .map(|index| definition.steps[index].id.to_string())
                    .collect();
                if !left.is_empty() {
                    return Err(format!("property 3: {} with {left:?} not undone", at()));
                }
            }
            _ => {}
        }
        replay = evolve(replay, event);
    }

    if !replay.status.is_final() {
        return Err(format!("property 1: the history ends {}", replay.status));
    }

    // Property 4: the replay is the harness' state.
    let state = &h.state;
    if replay.status != state.status {
        return Err(format!(
            "property 4: replayed status {} != {}",
            replay.status, state.status
        ));
    }
    for (index, (replayed, live)) in replay.steps.iter().zip(&state.steps).enumerate() {
        if replayed != live {
            return Err(format!(
                "property 4: step {} replays as {replayed:?}, is {live:?}",
                definition.steps[index].id
            ));
        }
    }
    let same = replay.output == state.output
        && replay.error == state.error
        && replay.cause == state.cause
        && replay.input == state.input
        && replay.cancel_requested == state.cancel_requested
        && replay.version == state.version
        && replay.version == history.len() as u64;
    if !same {
        return Err("property 4: the replayed instance differs".to_owned());
    }
    Ok(())
}

/// An attempt follows the last one and stays within the policy's bound
/// (plus one per operator retry).
fn next_attempt(attempt: u32, last: u32, bound: u32) -> Result<(), String> {
    if attempt != last + 1 || attempt > bound {
        return Err(format!("attempt {attempt} after {last} (bound {bound})"));
    }
    Ok(())
}
