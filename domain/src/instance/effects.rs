//! What an event asks of the outside world, derived purely from the event:
//! timers to set, and tasks to dispatch to workers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::command::Timer;
use super::event::Event;
use crate::definition::WorkflowDefinition;
use crate::ids::StepId;

/// The timers an event sets, with their due times.
pub fn timers_of(event: &Event) -> Vec<(Timer, DateTime<Utc>)> {
    let mut timers = Vec::new();
    match event {
        Event::WorkflowStarted {
            deadline,
            sla_due,
            start_at,
            ..
        } => {
            if let Some(at) = start_at {
                timers.push((Timer::ScheduledStart, *at));
            }
            if let Some(deadline) = deadline {
                timers.push((Timer::WorkflowDeadline, *deadline));
            }
            if let Some(due) = sla_due {
                timers.push((Timer::WorkflowSla, *due));
            }
        }
        Event::StepScheduled {
            step,
            attempt,
            deadline,
            wake_at,
            ..
        } => {
            if let Some(deadline) = deadline {
                timers.push((
                    Timer::StepDeadline {
                        step: step.clone(),
                        attempt: *attempt,
                    },
                    *deadline,
                ));
            }
            if let Some(wake_at) = wake_at {
                timers.push((
                    Timer::Wake {
                        step: step.clone(),
                        attempt: *attempt,
                    },
                    *wake_at,
                ));
            }
        }
        Event::StepStarted {
            step,
            attempt,
            heartbeat_due: Some(due),
            ..
        } => {
            timers.push((
                Timer::Heartbeat {
                    step: step.clone(),
                    attempt: *attempt,
                },
                *due,
            ));
        }
        Event::StepRetryScheduled { step, attempt, at } => {
            timers.push((
                Timer::StepRetry {
                    step: step.clone(),
                    attempt: *attempt,
                },
                *at,
            ));
        }
        Event::ApprovalRequested {
            step,
            attempt,
            due_at: Some(due),
            ..
        } => {
            timers.push((
                Timer::ApprovalDeadline {
                    step: step.clone(),
                    attempt: *attempt,
                },
                *due,
            ));
        }
        Event::SignalAwaited {
            step,
            attempt,
            due_at: Some(due),
            ..
        } => {
            timers.push((
                Timer::SignalDeadline {
                    step: step.clone(),
                    attempt: *attempt,
                },
                *due,
            ));
        }
        Event::CompensationScheduled {
            step,
            attempt,
            deadline: Some(deadline),
            ..
        } => {
            timers.push((
                Timer::CompensationDeadline {
                    step: step.clone(),
                    attempt: *attempt,
                },
                *deadline,
            ));
        }
        Event::CompensationRetryScheduled { step, attempt, at } => {
            timers.push((
                Timer::CompensationRetry {
                    step: step.clone(),
                    attempt: *attempt,
                },
                *at,
            ));
        }
        _ => {}
    }
    timers
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Forward,
    Compensation,
}

/// A task for a worker: the body of the message on the task queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub step: StepId,
    pub attempt: u32,
    pub kind: TaskKind,
    pub queue: String,
    pub input: Value,
    pub idempotency_key: String,
    pub deadline: Option<DateTime<Utc>>,
    pub priority: u8,
    /// The step's `heartbeat_timeout`, for a forward attempt: a worker
    /// heartbeats well within it.
    pub heartbeat_timeout: Option<std::time::Duration>,
    /// Where the definition wrote `${ secrets.NAME }`: JSON Pointers to the
    /// strings of `input` the executor resolves, and no others.
    pub secrets: Vec<String>,
}

/// The task an event dispatches, if any.
pub fn dispatch_of(definition: &WorkflowDefinition, event: &Event) -> Option<Dispatch> {
    let (Event::StepScheduled {
        step,
        attempt,
        input,
        idempotency_key,
        deadline,
        ..
    }
    | Event::CompensationScheduled {
        step,
        attempt,
        input,
        idempotency_key,
        deadline,
    }) = event
    else {
        return None;
    };
    let kind = match event {
        Event::StepScheduled { .. } => TaskKind::Forward,
        _ => TaskKind::Compensation,
    };
    let step_definition = definition.step(step.as_str())?;
    // Steps the engine runs itself (approval, wait, noop, fail) have no queue.
    let (queue, template) = match kind {
        TaskKind::Forward => (
            step_definition.kind.queue()?,
            step_definition.kind.template()?,
        ),
        TaskKind::Compensation => {
            let action = &step_definition.compensate.as_ref()?.action;
            (action.queue(), action.template())
        }
    };
    Some(Dispatch {
        step: step.clone(),
        attempt: *attempt,
        kind,
        queue: queue.to_owned(),
        input: input.clone(),
        idempotency_key: idempotency_key.clone(),
        deadline: *deadline,
        priority: step_definition.priority,
        // The engine arms no heartbeat timer for compensations.
        heartbeat_timeout: match kind {
            TaskKind::Forward => step_definition.heartbeat_timeout,
            TaskKind::Compensation => None,
        },
        secrets: template.secret_paths(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::parse_workflow;

    const FLOW: &str = "
name: flow
version: 1
steps:
  charge:
    type: task
    queue: payments
    heartbeat_timeout: 20s
    compensate: { type: task, queue: payments }
";

    fn scheduled(compensation: bool) -> Event {
        let (step, attempt, input, idempotency_key) =
            ("charge".into(), 1, serde_json::json!({}), "k".to_owned());
        if compensation {
            Event::CompensationScheduled {
                step,
                attempt,
                input,
                idempotency_key,
                deadline: None,
            }
        } else {
            Event::StepScheduled {
                step,
                attempt,
                input,
                idempotency_key,
                deadline: None,
                wake_at: None,
            }
        }
    }

    #[test]
    fn a_forward_task_carries_its_heartbeat_timeout_and_a_compensation_none() {
        let definition = parse_workflow(FLOW).expect("a valid definition");
        let forward = dispatch_of(&definition, &scheduled(false)).expect("a task");
        assert_eq!(forward.heartbeat_timeout, Some(Duration::from_secs(20)));
        let undo = dispatch_of(&definition, &scheduled(true)).expect("a compensation");
        assert_eq!(undo.kind, TaskKind::Compensation);
        assert_eq!(undo.heartbeat_timeout, None);
    }
}
