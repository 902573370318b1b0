//! A definition's graph as the definition routes answer it: every step with
//! its needs, join, condition, error policy and compensation, so a client
//! draws the whole workflow (the console draws it before steps run).

use domain::WorkflowDefinition;
use domain::definition::{HTTP_QUEUE, Join, OnError, StepKind};
use serde::Serialize;
use utoipa::ToSchema;

/// A step of the graph.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GraphStep {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    description: Option<String>,
    needs: Vec<String>,
    /// `all` (every need completed) or `any` (every need settled, one completed).
    join: &'static str,
    /// The `when:` condition (CEL), if any.
    when: Option<String>,
    /// `compensate`, `continue` or `fail`.
    on_error: &'static str,
    /// Whether it has a `compensate`.
    compensated: bool,
    /// The queue its compensation goes to (`http` for an HTTP call).
    compensation_queue: Option<String>,
    /// The queue a worker takes it from (`task`, and `http` for HTTP steps).
    queue: Option<String>,
    /// An approval's `approvers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    approvers: Option<Vec<String>>,
    /// The attempt's time limit (an approval's deadline), in milliseconds.
    timeout_ms: Option<u64>,
    max_attempts: u32,
}

pub(crate) fn steps(definition: &WorkflowDefinition) -> Vec<GraphStep> {
    definition
        .steps
        .iter()
        .map(|step| GraphStep {
            id: step.id.as_str().to_owned(),
            kind: step.kind.name().to_owned(),
            description: step.description.clone(),
            needs: step
                .needs
                .iter()
                .map(|&need| definition.steps[need].id.as_str().to_owned())
                .collect(),
            join: match step.join {
                Join::All => "all",
                Join::Any => "any",
            },
            when: step.when.as_ref().map(|when| when.source().to_owned()),
            on_error: match step.on_error {
                OnError::Compensate => "compensate",
                OnError::Continue => "continue",
                OnError::Fail => "fail",
            },
            compensated: step.compensate.is_some(),
            compensation_queue: step
                .compensate
                .as_ref()
                .map(|compensation| compensation.action.queue().to_owned()),
            queue: match &step.kind {
                StepKind::Task { queue, .. } => Some(queue.clone()),
                StepKind::Http { .. } => Some(HTTP_QUEUE.to_owned()),
                _ => None,
            },
            approvers: match &step.kind {
                StepKind::Approval { approvers, .. } => Some(approvers.clone()),
                _ => None,
            },
            timeout_ms: step.timeout.map(|timeout| timeout.as_millis() as u64),
            max_attempts: step.retry.max_attempts,
        })
        .collect()
}
