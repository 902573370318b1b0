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
    /// The step's `heartbeat_timeout` in milliseconds (forward attempts
    /// only): a worker that reports `started` heartbeats well within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_ms: Option<u64>,
    /// The W3C trace context of the command that scheduled this attempt
    /// (also sent as the AMQP header `traceparent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// JSON Pointers to the strings of `input` that hold `${ secrets.NAME }`
    /// references, placed there by the definition: a worker resolves those
    /// and no others (docs/worker-protocol.md, section 7).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
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
            heartbeat_timeout_ms: dispatch
                .heartbeat_timeout
                .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
            traceparent: None,
            secrets: dispatch.secrets,
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

/// What one message on the results queue carries: one result (a JSON
/// object), or several that a worker reports together (a JSON array of
/// them). A worker that finished many tasks at once publishes them in one
/// message: one publish, one confirm, one delivery and one ack at the
/// broker instead of one each.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultBatch(pub Vec<TaskResult>);

impl Serialize for ResultBatch {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ResultsOnWire(&self.0).serialize(serializer)
    }
}

/// The wire form of a [`ResultBatch`], from borrowed results: one result as
/// the object itself, so that an engine that reads only objects still reads
/// what a worker reports one at a time; several as an array.
#[derive(Clone, Copy, Debug)]
pub struct ResultsOnWire<'a>(pub &'a [TaskResult]);

impl Serialize for ResultsOnWire<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            [one] => one.serialize(serializer),
            many => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ResultBatch {
    /// An object or an array of objects, with the error of the result that
    /// is wrong (an untagged enum would only say that nothing matched).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ResultBatch;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a result object or an array of result objects")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ResultBatch, A::Error> {
                let one =
                    TaskResult::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ResultBatch(vec![one]))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<ResultBatch, A::Error> {
                let many = Vec::<TaskResult>::deserialize(
                    serde::de::value::SeqAccessDeserializer::new(seq),
                )?;
                if many.is_empty() {
                    return Err(serde::de::Error::invalid_length(0, &"at least one result"));
                }
                Ok(ResultBatch(many))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn completed(task_id: &str) -> TaskResult {
        TaskResult {
            task_id: task_id.into(),
            instance_id: InstanceId(uuid::Uuid::nil()),
            step: StepId::from("charge"),
            attempt: 1,
            kind: TaskKind::Forward,
            started_by: Some("w1".into()),
            outcome: TaskOutcome::Completed {
                output: json!(null),
            },
        }
    }

    #[test]
    fn a_result_message_is_one_object_or_an_array_of_them() {
        let one = ResultBatch(vec![completed("a")]);
        let wire = serde_json::to_value(&one).unwrap();
        assert!(wire.is_object(), "one result stays an object: {wire}");
        assert_eq!(serde_json::from_value::<ResultBatch>(wire).unwrap(), one);

        let two = ResultBatch(vec![completed("a"), completed("b")]);
        let wire = serde_json::to_value(&two).unwrap();
        assert_eq!(wire.as_array().map(Vec::len), Some(2));
        assert_eq!(serde_json::from_value::<ResultBatch>(wire).unwrap(), two);
    }

    #[test]
    fn a_wrong_result_message_says_what_is_wrong() {
        let empty = serde_json::from_str::<ResultBatch>("[]").unwrap_err();
        assert!(empty.to_string().contains("at least one result"), "{empty}");
        let mut wire = serde_json::to_value(completed("a")).unwrap();
        wire.as_object_mut().unwrap().remove("step");
        let missing = serde_json::from_value::<ResultBatch>(json!([wire])).unwrap_err();
        assert!(missing.to_string().contains("step"), "{missing}");
        let number = serde_json::from_str::<ResultBatch>("7").unwrap_err();
        assert!(number.to_string().contains("result object"), "{number}");
    }

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
