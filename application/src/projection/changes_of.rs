//! The projection as a pure function: the row changes of one event.

use chrono::{DateTime, Utc};
use domain::instance::{Event, SkipReason};
use domain::{InstanceId, WorkflowDefinition};

use super::{Change, ChangeKind, NewStep, StepChange};

/// The row changes of one event. `definition` is the instance's definition,
/// needed only for `WorkflowStarted` (to create its step rows).
pub fn changes_of(
    instance: InstanceId,
    at: DateTime<Utc>,
    event: &Event,
    definition: Option<&WorkflowDefinition>,
) -> Vec<Change> {
    let change = |kind| Change { instance, at, kind };
    let kind = match event {
        Event::WorkflowStarted {
            definition: name,
            version,
            input,
            started_by,
            ..
        } => ChangeKind::Started {
            definition: name.clone(),
            version: *version,
            input: input.clone(),
            started_by: started_by.clone(),
            steps: definition.map(new_steps).unwrap_or_default(),
        },
        Event::ScheduledStartReached => ChangeKind::Status("running"),
        Event::WorkflowPaused => ChangeKind::Status("paused"),
        Event::WorkflowResumed => ChangeKind::Status("running"),
        Event::CompensationStarted { .. } => ChangeKind::Status("compensating"),
        Event::WorkflowCompleted { output } => ChangeKind::Finished {
            status: "completed",
            output: Some(output.clone()),
            error: None,
        },
        Event::WorkflowFailed { error } => ChangeKind::Finished {
            status: "failed",
            output: None,
            error: Some(error.clone()),
        },
        Event::WorkflowCompensated => finished("compensated"),
        Event::WorkflowCompensationFailed { .. } => finished("compensation_failed"),
        Event::WorkflowCancelled => finished("cancelled"),
        _ => match step_change(event) {
            Some((step, step_change)) => ChangeKind::Step {
                step,
                change: step_change,
            },
            None => ChangeKind::Touched,
        },
    };
    let mut changes = vec![change(kind)];
    // Besides their step, these move the instance too (as `evolve` does).
    let side_effect = match event {
        Event::WorkflowStarted {
            start_at: Some(_), ..
        } => Some(ChangeKind::Status("scheduled")),
        Event::StepRetryRequested { .. } => Some(ChangeKind::Revived {
            only_if_failed: false,
        }),
        Event::StepSkipped {
            reason: SkipReason::Operator,
            ..
        } => Some(ChangeKind::Revived {
            only_if_failed: true,
        }),
        Event::CompensationRetryRequested { .. } | Event::CompensationSkipped { .. } => {
            Some(ChangeKind::Status("compensating"))
        }
        _ => None,
    };
    changes.extend(side_effect.map(change));
    changes
}

fn finished(status: &'static str) -> ChangeKind {
    ChangeKind::Finished {
        status,
        output: None,
        error: None,
    }
}

fn new_steps(definition: &WorkflowDefinition) -> Vec<NewStep> {
    definition
        .steps
        .iter()
        .enumerate()
        .map(|(position, step)| NewStep {
            step: step.id.to_string(),
            position: position as u32,
            kind: step.kind.name().to_owned(),
        })
        .collect()
}

fn step_change(event: &Event) -> Option<(String, StepChange)> {
    let change = match event {
        Event::StepScheduled {
            attempt, wake_at, ..
        } => StepChange::Scheduled {
            attempt: *attempt,
            waiting: wake_at.is_some(),
        },
        Event::StepStarted { worker, .. } => StepChange::Started {
            worker: worker.clone(),
        },
        Event::StepCompleted {
            attempt, output, ..
        } => StepChange::Completed {
            attempt: *attempt,
            output: output.clone(),
        },
        Event::StepFailed { attempt, error, .. } => StepChange::Failed {
            attempt: *attempt,
            error: error.message.clone(),
        },
        Event::StepTimedOut {
            attempt, timeout, ..
        } => StepChange::Failed {
            attempt: *attempt,
            error: timeout.message().to_owned(),
        },
        Event::StepRetryScheduled { .. } => StepChange::RetryScheduled,
        Event::StepRetryRequested { .. } => StepChange::RetryRequested,
        Event::StepSkipped { output, .. } => StepChange::Skipped {
            output: output.clone(),
        },
        Event::ApprovalRequested { attempt, .. } | Event::SignalAwaited { attempt, .. } => {
            StepChange::Waiting { attempt: *attempt }
        }
        Event::CompensationScheduled { .. } => StepChange::Compensation("scheduled"),
        Event::CompensationCompleted { .. } => StepChange::Compensation("completed"),
        Event::CompensationFailed { .. } => StepChange::Compensation("failed"),
        Event::CompensationRetryScheduled { .. } => StepChange::Compensation("retrying"),
        Event::CompensationRetryRequested { .. } => StepChange::Compensation("not_started"),
        Event::CompensationSkipped { .. } => StepChange::Compensation("skipped"),
        _ => return None,
    };
    Some((event.step()?.to_string(), change))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::StepId;
    use domain::instance::StepError;
    use serde_json::json;

    fn kinds(event: Event) -> Vec<ChangeKind> {
        let id = InstanceId(uuid::Uuid::nil());
        changes_of(id, Utc::now(), &event, None)
            .into_iter()
            .map(|change| change.kind)
            .collect()
    }

    #[test]
    fn an_operator_skip_revives_a_failed_instance_and_a_condition_skip_does_not() {
        let skip = |reason| Event::StepSkipped {
            step: StepId::from("a"),
            reason,
            output: None,
        };
        assert_eq!(
            kinds(skip(SkipReason::Operator))[1],
            ChangeKind::Revived {
                only_if_failed: true
            }
        );
        assert_eq!(kinds(skip(SkipReason::ConditionFalse)).len(), 1);
    }

    #[test]
    fn a_retry_request_puts_the_step_back_to_pending_and_the_instance_to_running() {
        let changes = kinds(Event::StepRetryRequested {
            step: StepId::from("a"),
        });
        assert_eq!(
            changes,
            [
                ChangeKind::Step {
                    step: "a".into(),
                    change: StepChange::RetryRequested
                },
                ChangeKind::Revived {
                    only_if_failed: false
                }
            ]
        );
    }

    #[test]
    fn final_events_finish_the_instance_with_their_output_or_error() {
        assert_eq!(
            kinds(Event::WorkflowCompleted { output: json!(1) }),
            [ChangeKind::Finished {
                status: "completed",
                output: Some(json!(1)),
                error: None
            }]
        );
        assert_eq!(
            kinds(Event::WorkflowFailed {
                error: "boom".into()
            }),
            [ChangeKind::Finished {
                status: "failed",
                output: None,
                error: Some("boom".into())
            }]
        );
        assert_eq!(
            kinds(Event::StepFailed {
                step: StepId::from("a"),
                attempt: 2,
                error: StepError::permanent("no"),
            }),
            [ChangeKind::Step {
                step: "a".into(),
                change: StepChange::Failed {
                    attempt: 2,
                    error: "no".into()
                }
            }]
        );
    }
}
