//! What crosses the bus: tasks for workers and their results. The wire
//! format (JSON) is documented for workers in any language in
//! `docs/worker-protocol.md`.

use chrono::{DateTime, Utc};
use domain::instance::StepError;
use domain::instance::effects::{Dispatch, TaskKind};
use domain::{InstanceId, StepId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A unit of work on a task queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskMessage {
    /// `<instance>:<step>:<kind>:<attempt>`: unique per attempt.
    pub task_id: String,
    pub instance_id: InstanceId,
    pub workflow: String,
    pub step: StepId,
    pub attempt: u32,
    pub kind: TaskKind,
    pub queue: String,
    pub input: Value,
    /// Stable across attempts and redeliveries of the same step.
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    #[serde(default)]
    pub priority: u8,
    /// The W3C trace context of the command that scheduled this attempt
    /// (also sent as the AMQP header `traceparent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl TaskMessage {
    pub fn new(instance_id: InstanceId, workflow: &str, dispatch: Dispatch) -> Self {
        let kind = match dispatch.kind {
            TaskKind::Forward => "forward",
            TaskKind::Compensation => "compensation",
        };
        Self {
            task_id: format!(
                "{instance_id}:{}:{kind}:{}",
                dispatch.step, dispatch.attempt
            ),
            instance_id,
            workflow: workflow.to_owned(),
            step: dispatch.step,
            attempt: dispatch.attempt,
            kind: dispatch.kind,
            queue: dispatch.queue,
            input: dispatch.input,
            idempotency_key: dispatch.idempotency_key,
            deadline: dispatch.deadline,
            priority: dispatch.priority,
            traceparent: None,
        }
    }

    /// The same task in the trace `traceparent` names.
    pub fn traced(mut self, traceparent: String) -> Self {
        self.traceparent = Some(traceparent);
        self
    }
}

/// What a worker reports about a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TaskOutcome {
    Started {
        worker: String,
    },
    Completed {
        output: Value,
    },
    Failed {
        error: StepError,
    },
    /// Progress 0–100; not an event, it feeds the live read model only.
    Heartbeat {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    pub task_id: String,
    pub instance_id: InstanceId,
    pub step: StepId,
    pub attempt: u32,
    pub kind: TaskKind,
    /// On a final outcome: the worker that ran the attempt, when it did not
    /// report `started` on its own. The engine then records the start and the
    /// outcome together, one message and one append instead of two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    #[serde(flatten)]
    pub outcome: TaskOutcome,
}

impl TaskResult {
    pub fn for_task(task: &TaskMessage, outcome: TaskOutcome) -> Self {
        Self {
            task_id: task.task_id.clone(),
            instance_id: task.instance_id,
            step: task.step.clone(),
            attempt: task.attempt,
            kind: task.kind,
            started_by: None,
            outcome,
        }
    }

    /// A final outcome that also says which worker ran the attempt.
    pub fn started_by(mut self, worker: impl Into<String>) -> Self {
        self.started_by = Some(worker.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_flat_json_with_an_outcome_tag() {
        let result = TaskResult {
            task_id: "t".into(),
            instance_id: InstanceId(uuid::Uuid::nil()),
            step: StepId::from("charge"),
            attempt: 2,
            kind: TaskKind::Forward,
            started_by: None,
            outcome: TaskOutcome::Completed {
                output: json!({"id": 7}),
            },
        };
        let wire = serde_json::to_value(&result).unwrap();
        assert_eq!(wire["outcome"], "completed");
        assert_eq!(wire["output"]["id"], 7);
        assert_eq!(wire["kind"], "forward");
        assert_eq!(serde_json::from_value::<TaskResult>(wire).unwrap(), result);
    }

    #[test]
    fn a_final_result_may_name_the_worker_that_started_it() {
        let wire = json!({
            "task_id": "t", "instance_id": uuid::Uuid::nil(), "step": "charge",
            "attempt": 1, "kind": "forward", "outcome": "completed",
            "output": {}, "started_by": "w1",
        });
        let result: TaskResult = serde_json::from_value(wire).unwrap();
        assert_eq!(result.started_by.as_deref(), Some("w1"));
        let started = json!({
            "task_id": "t", "instance_id": uuid::Uuid::nil(), "step": "charge",
            "attempt": 1, "kind": "forward", "outcome": "started", "worker": "w1",
        });
        let result: TaskResult = serde_json::from_value(started).unwrap();
        assert_eq!(result.started_by, None);
        assert_eq!(
            result.outcome,
            TaskOutcome::Started {
                worker: "w1".into()
            }
        );
    }
}
