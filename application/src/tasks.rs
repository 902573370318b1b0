//! A step seen as a task: the task ids callers name them by, and the reports
//! of workers that speak HTTP (REST or GraphQL) instead of the bus, handled
//! as results from the bus are.
//!
//! A task id is `<workflow id>:<step>:<kind>:<attempt>` as in task messages
//! ([`TaskMessage`](crate::messages::TaskMessage)); operators may name a
//! step by `<workflow id>:<step>`.

use std::time::Duration;

use domain::definition::HTTP_QUEUE;
use domain::instance::Event;
use domain::instance::effects::TaskKind;
use domain::{InstanceId, StepId};
use uuid::Uuid;

use crate::messages::{TaskMessage, TaskOutcome, TaskResult};
use crate::ports::{EventStore, ProjectionWriter, TaskHandout, TimerQueue};
use crate::{Engine, Error};

/// A parsed task id: the step, and the attempt when given in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRef {
    pub instance: InstanceId,
    pub step: StepId,
    pub attempt: Option<(TaskKind, u32)>,
    /// As the caller wrote it.
    pub text: String,
}

/// Why a task id or a worker's report was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("`{0}` is not a task id (`<workflow id>:<step>[:<kind>:<attempt>]`)")]
    NotATaskId(String),
    #[error("`{0}` is not a workflow id")]
    NotAWorkflowId(String),
    #[error(
        "`{0}` names a step, not an attempt: workers report with the task id of their task message"
    )]
    NotAnAttempt(String),
    #[error("`progress` is 0 to 100")]
    ProgressOutOfRange,
    #[error(
        "`{0}` is not a queue name (a letter or digit, then letters, digits, `.`, `_` or `-`; at most 200)"
    )]
    NotAQueue(String),
    #[error("queue `{HTTP_QUEUE}` is the built-in HTTP executor's")]
    ExecutorsQueue,
    /// A duplicate or stale report: it changed nothing.
    #[error("task {0} is not running (a duplicate or stale report): nothing changed")]
    NotRunning(String),
    #[error(transparent)]
    Failed(#[from] Error),
}

impl TaskRef {
    pub fn parse(text: &str) -> Result<Self, TaskError> {
        let bad = || TaskError::NotATaskId(text.to_owned());
        let parts: Vec<&str> = text.split(':').collect();
        let (instance, step) = match parts.as_slice() {
            [instance, step, ..] if !step.is_empty() => (
                Uuid::parse_str(instance)
                    .map(InstanceId)
                    .map_err(|_| TaskError::NotAWorkflowId((*instance).to_owned()))?,
                StepId::from(*step),
            ),
            _ => return Err(bad()),
        };
        let attempt = match parts.as_slice() {
            [_, _] => None,
            [_, _, kind, attempt] => {
                let kind = match *kind {
                    "forward" => TaskKind::Forward,
                    "compensation" => TaskKind::Compensation,
                    _ => return Err(bad()),
                };
                Some((kind, attempt.parse().map_err(|_| bad())?))
            }
            _ => return Err(bad()),
        };
        Ok(Self {
            instance,
            step,
            attempt,
            text: text.to_owned(),
        })
    }

    /// The result a worker reports on the attempt this id names.
    fn result(&self, outcome: TaskOutcome) -> Result<TaskResult, TaskError> {
        let Some((kind, attempt)) = self.attempt else {
            return Err(TaskError::NotAnAttempt(self.text.clone()));
        };
        Ok(TaskResult {
            task_id: self.text.clone(),
            instance_id: self.instance,
            step: self.step.clone(),
            attempt,
            kind,
            started_by: None,
            outcome,
        })
    }
}

/// A worker's report (completed or failed) on the attempt `task` names; the
/// events it caused. One that changes nothing is [`TaskError::NotRunning`].
/// Either way the task is then done with, and `handout` hears it.
pub async fn report<S: EventStore + TimerQueue>(
    engine: &Engine<S>,
    handout: Option<&dyn TaskHandout>,
    task: &TaskRef,
    outcome: TaskOutcome,
) -> Result<Vec<Event>, TaskError> {
    let events = engine.handle_result(task.result(outcome)?).await?;
    if let Some(handout) = handout {
        handout.settled(&task.text).await?;
    }
    if events.is_empty() {
        return Err(TaskError::NotRunning(task.text.clone()));
    }
    Ok(events)
}

/// A worker's heartbeat: pushes the attempt's heartbeat deadline and
/// records its progress (0 to 100). One for an attempt that is not running
/// changes nothing, and is no error.
pub async fn heartbeat<S: EventStore + TimerQueue>(
    engine: &Engine<S>,
    read_models: &impl ProjectionWriter,
    task: &TaskRef,
    progress: Option<u8>,
) -> Result<(), TaskError> {
    if progress.is_some_and(|progress| progress > 100) {
        return Err(TaskError::ProgressOutOfRange);
    }
    let result = task.result(TaskOutcome::Heartbeat { progress })?;
    engine.handle_result(result).await?;
    if let Some(progress) = progress {
        read_models
            .record_progress(task.instance, task.step.as_str(), progress)
            .await?;
    }
    Ok(())
}

/// Hands one task of `queue` to a worker that polls over HTTP, waiting up
/// to `wait` for one. The task leaves its queue: it is the worker's from
/// then on, and its start is recorded with `worker` (a compensation's
/// start is no event). A node without a `handout` hands out none.
pub async fn take<S: EventStore + TimerQueue>(
    engine: &Engine<S>,
    handout: Option<&dyn TaskHandout>,
    queue: &str,
    wait: Duration,
    worker: String,
) -> Result<Option<TaskMessage>, TaskError> {
    pollable(queue)?;
    let Some(handout) = handout else {
        return Err(Error::unavailable("this node hands out no tasks").into());
    };
    let Some(task) = handout.take(queue, wait).await? else {
        return Ok(None);
    };
    let started = TaskResult::for_task(&task, TaskOutcome::Started { worker });
    // The task is handed out whatever happens here: it left the queue.
    if let Err(error) = engine.handle_result(started).await {
        tracing::warn!(task = %task.task_id, error = %error.report(), "recording the start of a polled task failed");
    }
    Ok(Some(task))
}

/// A queue whose tasks workers may poll: any a definition may name.
fn pollable(queue: &str) -> Result<(), TaskError> {
    let mut chars = queue.chars();
    let valid = queue.len() <= 200
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid {
        return Err(TaskError::NotAQueue(queue.to_owned()));
    }
    if queue == HTTP_QUEUE {
        return Err(TaskError::ExecutorsQueue);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0190a0e4-7c3e-7000-8000-000000000001";

    #[test]
    fn a_task_id_names_a_step_or_one_of_its_attempts() {
        let step = TaskRef::parse(&format!("{ID}:charge")).unwrap();
        assert_eq!(step.step.as_str(), "charge");
        assert_eq!(step.attempt, None);
        let attempt = TaskRef::parse(&format!("{ID}:charge:compensation:2")).unwrap();
        assert_eq!(attempt.attempt, Some((TaskKind::Compensation, 2)));
    }

    #[test]
    fn a_malformed_task_id_says_which_part_is_wrong() {
        for text in [
            "nothing",
            &format!("{ID}:"),
            &format!("{ID}:charge:sideways:1"),
            &format!("{ID}:charge:forward:first"),
            &format!("{ID}:charge:forward"),
        ] {
            assert!(
                matches!(TaskRef::parse(text), Err(TaskError::NotATaskId(_))),
                "{text}"
            );
        }
        assert!(matches!(
            TaskRef::parse("order-7:charge"),
            Err(TaskError::NotAWorkflowId(id)) if id == "order-7"
        ));
    }

    #[test]
    fn workers_poll_the_queues_definitions_may_name() {
        assert!(pollable("payments.eu-1").is_ok());
        assert!(matches!(
            pollable("_internal"),
            Err(TaskError::NotAQueue(_))
        ));
        assert!(matches!(
            pollable(&"q".repeat(201)),
            Err(TaskError::NotAQueue(_))
        ));
        assert!(matches!(pollable("http"), Err(TaskError::ExecutorsQueue)));
    }
}
