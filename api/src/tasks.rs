//! `/api/v1/tasks/{task_id}`: a step of a workflow. Operators retry, skip,
//! approve and reject it; workers that report over HTTP complete, fail and
//! heartbeat it (the same handling as results from the bus).
//!
//! A task id is `<workflow id>:<step>:<kind>:<attempt>` as in task messages;
//! the operator commands and the read also take `<workflow id>:<step>`.

use std::sync::Arc;

use application::messages::{TaskOutcome, TaskResult};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::instance::effects::TaskKind;
use domain::instance::{Command, StepError};
use domain::{InstanceId, StepId};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::Problem;
use crate::extract::{PathParams, optional};
use crate::views::{HeartbeatAccepted, ReportAccepted, Step, Task, Workflow};
use crate::workflows::{body, instance_id, operate};
use crate::{ApiError, App, Caller, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/{task_id}", get(show::<S, R>))
        .route("/{task_id}/retry", post(retry::<S, R>))
        .route("/{task_id}/skip", post(skip::<S, R>))
        .route("/{task_id}/approve", post(approve::<S, R>))
        .route("/{task_id}/reject", post(reject::<S, R>))
        .route("/{task_id}/complete", post(complete::<S, R>))
        .route("/{task_id}/fail", post(fail::<S, R>))
        .route("/{task_id}/heartbeat", post(heartbeat::<S, R>))
}

/// A parsed task id: the step, and the attempt when given in full.
pub(crate) struct TaskRef {
    pub(crate) instance: InstanceId,
    pub(crate) step: StepId,
    pub(crate) attempt: Option<(TaskKind, u32)>,
    pub(crate) text: String,
}

pub(crate) fn task_ref(text: &str) -> Result<TaskRef, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "`{text}` is not a task id (`<workflow id>:<step>[:<kind>:<attempt>]`)"
        ))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let (instance, step) = match parts.as_slice() {
        [instance, step, ..] if !step.is_empty() => (instance_id(instance)?, StepId::from(*step)),
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
    Ok(TaskRef {
        instance,
        step,
        attempt,
        text: text.to_owned(),
    })
}

/// How the routes describe a task id.
const TASK_ID: &str =
    "`<workflow id>:<step>:<kind>:<attempt>` as in task messages, or `<workflow id>:<step>`";

/// A step of a workflow.
#[utoipa::path(
    get, path = "/api/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    responses(
        (status = 200, description = "The step", body = Task),
        (status = 400, description = "Not a task id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
) -> Result<Json<Task>, ApiError> {
    let task = task_ref(&task_id)?;
    let steps = app.read_models.steps(task.instance).await?;
    let step = steps
        .iter()
        .find(|step| step.step == task.step.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("task {task_id}")))?;
    Ok(Json(Task {
        workflow_id: task.instance.0,
        task_id,
        step: Step::projected(step),
    }))
}

/// Retries a failed step (before compensation started).
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/retry", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 400, description = "Not a task id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The step is not failed, or compensation started", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn retry<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
) -> Result<Json<Workflow>, ApiError> {
    let task = task_ref(&task_id)?;
    let command = Command::RetryStep { step: task.step };
    operate(&app.engine, task.instance, command, &caller).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkipRequest {
    /// What the step's dependants see as its output.
    #[serde(default)]
    output: Value,
}

/// Skips a pending or failed step with the output its dependants see.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/skip", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = SkipRequest),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 400, description = "Not a task id, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The step cannot be skipped now", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn skip<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
    payload: Result<Json<SkipRequest>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let task = task_ref(&task_id)?;
    let output = body(payload)?.output;
    let command = Command::SkipStep {
        step: task.step,
        output,
    };
    operate(&app.engine, task.instance, command, &caller).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionRequest {
    /// Recorded with the decision.
    comment: Option<String>,
}

/// Grants an approval.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/approve", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = Option<DecisionRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 400, description = "Not a task id, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not one of the step's approvers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The step is not waiting for a decision", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn approve<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
    payload: Result<Option<Json<Option<DecisionRequest>>>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let task = task_ref(&task_id)?;
    let comment = optional(payload)?.and_then(|request| request.comment);
    let command = Command::Approve {
        step: task.step,
        actor: caller.actor(),
        comment,
    };
    operate(&app.engine, task.instance, command, &caller).await
}

/// Rejects an approval.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/reject", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = Option<DecisionRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 400, description = "Not a task id, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not one of the step's approvers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The step is not waiting for a decision", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn reject<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
    payload: Result<Option<Json<Option<DecisionRequest>>>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let task = task_ref(&task_id)?;
    let comment = optional(payload)?.and_then(|request| request.comment);
    let command = Command::Reject {
        step: task.step,
        actor: caller.actor(),
        comment,
    };
    operate(&app.engine, task.instance, command, &caller).await
}

/// A worker's report on the attempt the task id names.
async fn report<S: Store, R: ReadModels>(
    app: &App<S, R>,
    task: TaskRef,
    outcome: TaskOutcome,
) -> Result<Json<ReportAccepted>, ApiError> {
    let Some((kind, attempt)) = task.attempt else {
        return Err(ApiError::BadRequest(format!(
            "`{}` names a step, not an attempt: workers report with the task id of their task message",
            task.text
        )));
    };
    let result = TaskResult {
        task_id: task.text.clone(),
        instance_id: task.instance,
        step: task.step,
        attempt,
        kind,
        started_by: None,
        outcome,
    };
    let events = app.engine.handle_result(result).await?;
    if events.is_empty() {
        return Err(ApiError::Conflict(format!(
            "task {} is not running (a duplicate or stale report): nothing changed",
            task.text
        )));
    }
    Ok(Json(ReportAccepted {
        task_id: task.text,
        events: events.iter().map(|event| event.name().to_owned()).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompleteRequest {
    /// The step's output (null when absent).
    #[serde(default)]
    output: Value,
}

/// A worker's report: the attempt completed with this output.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/complete", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = CompleteRequest),
    responses(
        (status = 200, description = "Recorded", body = ReportAccepted),
        (status = 400, description = "Not a task id, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The attempt is not running (a duplicate or stale report): nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn complete<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
    payload: Result<Json<CompleteRequest>, JsonRejection>,
) -> Result<Json<ReportAccepted>, ApiError> {
    let task = task_ref(&task_id)?;
    let output = body(payload)?.output;
    report(&app, task, TaskOutcome::Completed { output }).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FailRequest {
    message: String,
    /// Whether another attempt may succeed.
    #[serde(default = "retryable_by_default")]
    #[schema(default = true)]
    retryable: bool,
}

fn retryable_by_default() -> bool {
    true
}

/// A worker's report: the attempt failed.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/fail", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = FailRequest),
    responses(
        (status = 200, description = "Recorded", body = ReportAccepted),
        (status = 400, description = "Not a task id, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The attempt is not running (a duplicate or stale report): nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn fail<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
    payload: Result<Json<FailRequest>, JsonRejection>,
) -> Result<Json<ReportAccepted>, ApiError> {
    let task = task_ref(&task_id)?;
    let request = body(payload)?;
    let error = StepError {
        message: request.message,
        retryable: request.retryable,
    };
    report(&app, task, TaskOutcome::Failed { error }).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeartbeatRequest {
    /// 0 to 100.
    #[schema(maximum = 100)]
    progress: Option<u8>,
}

/// A worker's heartbeat: pushes the attempt's heartbeat deadline and
/// records its progress.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/heartbeat", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = Option<HeartbeatRequest>, description = "Optional"),
    responses(
        (status = 200, description = "Recorded (a heartbeat for an attempt that is not running changes nothing)", body = HeartbeatAccepted),
        (status = 400, description = "Not a task id, or a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such workflow or step", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn heartbeat<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
    payload: Result<Option<Json<Option<HeartbeatRequest>>>, JsonRejection>,
) -> Result<Json<HeartbeatAccepted>, ApiError> {
    let task = task_ref(&task_id)?;
    let progress = optional(payload)?.and_then(|request| request.progress);
    if progress.is_some_and(|progress| progress > 100) {
        return Err(ApiError::BadRequest("`progress` is 0 to 100".to_owned()));
    }
    let Some((kind, attempt)) = task.attempt else {
        return Err(ApiError::BadRequest(format!(
            "`{}` names a step, not an attempt",
            task.text
        )));
    };
    let step = task.step.clone();
    let result = TaskResult {
        task_id: task.text.clone(),
        instance_id: task.instance,
        step: task.step,
        attempt,
        kind,
        started_by: None,
        outcome: TaskOutcome::Heartbeat { progress },
    };
    app.engine.handle_result(result).await?;
    if let Some(progress) = progress {
        app.read_models
            .record_progress(task.instance, step.as_str(), progress)
            .await?;
    }
    Ok(Json(HeartbeatAccepted {
        task_id: task.text,
        progress,
    }))
}
