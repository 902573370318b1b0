//! `/api/v1/tasks/{task_id}`: a step of a workflow. Operators retry, skip,
//! approve and reject it; workers that report over HTTP complete, fail and
//! heartbeat it (the same handling as results from the bus).
//!
//! A task id is `<workflow id>:<step>:<kind>:<attempt>` as in task messages;
//! the operator commands and the read also take `<workflow id>:<step>`.

use std::sync::Arc;

use application::messages::TaskOutcome;
use application::tasks::{self, TaskError, TaskRef};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::StepId;
use domain::instance::{Actor, Command, Event, StepError};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::Problem;
use crate::extract::{PathParams, optional};
use crate::problems::{BodyLimit, Decision, JsonBody, StaleReport, TaskCommand, TaskRoute};
use crate::views::{HeartbeatAccepted, ReportAccepted, Step, Task, Workflow};
use crate::workflows::{body, operate};
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

/// As REST and GraphQL answer a refused task id or report.
impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        match error {
            TaskError::NotRunning(_) => ApiError::Conflict(error.to_string()),
            TaskError::Failed(error) => error.into(),
            _ => ApiError::BadRequest(error.to_string()),
        }
    }
}

/// The events a report caused, by type.
pub(crate) fn event_names(events: &[Event]) -> Vec<String> {
    events.iter().map(|event| event.name().to_owned()).collect()
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
        TaskRoute,
    ),
)]
pub(crate) async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
) -> Result<Json<Task>, ApiError> {
    let task = TaskRef::parse(&task_id)?;
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
        (status = 409, description = "The step is not failed, or compensation started", body = Problem, content_type = "application/problem+json"),
        TaskRoute,
    ),
)]
pub(crate) async fn retry<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
) -> Result<Json<Workflow>, ApiError> {
    let task = TaskRef::parse(&task_id)?;
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
        (status = 409, description = "The step cannot be skipped now", body = Problem, content_type = "application/problem+json"),
        TaskCommand, JsonBody,
    ),
)]
pub(crate) async fn skip<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
    payload: Result<Json<SkipRequest>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let task = TaskRef::parse(&task_id)?;
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

/// An approver's decision on a step: [`approval`] or [`rejection`].
pub(crate) type Decide = fn(StepId, Actor, Option<String>) -> Command;

pub(crate) fn approval(step: StepId, actor: Actor, comment: Option<String>) -> Command {
    Command::Approve {
        step,
        actor,
        comment,
    }
}

pub(crate) fn rejection(step: StepId, actor: Actor, comment: Option<String>) -> Command {
    Command::Reject {
        step,
        actor,
        comment,
    }
}

/// An approver's decision on the step `task_id` names.
async fn decision<S: Store, R: ReadModels>(
    app: &App<S, R>,
    caller: &Caller,
    task_id: &str,
    payload: Result<Option<Json<Option<DecisionRequest>>>, JsonRejection>,
    decide: Decide,
) -> Result<Json<Workflow>, ApiError> {
    let task = TaskRef::parse(task_id)?;
    let comment = optional(payload)?.and_then(|request| request.comment);
    let command = decide(task.step, caller.actor(), comment);
    operate(&app.engine, task.instance, command, caller).await
}

/// Grants an approval.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/approve", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = Option<DecisionRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        TaskCommand, Decision, BodyLimit,
    ),
)]
pub(crate) async fn approve<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
    payload: Result<Option<Json<Option<DecisionRequest>>>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    decision(&app, &caller, &task_id, payload, approval).await
}

/// Rejects an approval.
#[utoipa::path(
    post, path = "/api/v1/tasks/{task_id}/reject", tag = "tasks",
    params(("task_id" = String, Path, description = TASK_ID)),
    request_body(content = Option<DecisionRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        TaskCommand, Decision, BodyLimit,
    ),
)]
pub(crate) async fn reject<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(task_id): PathParams<String>,
    payload: Result<Option<Json<Option<DecisionRequest>>>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    decision(&app, &caller, &task_id, payload, rejection).await
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
        TaskCommand, StaleReport, JsonBody,
    ),
)]
pub(crate) async fn complete<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
    payload: Result<Json<CompleteRequest>, JsonRejection>,
) -> Result<Json<ReportAccepted>, ApiError> {
    let task = TaskRef::parse(&task_id)?;
    let output = body(payload)?.output;
    let events = tasks::report(
        &app.engine,
        app.handout(),
        &task,
        TaskOutcome::Completed { output },
    )
    .await?;
    Ok(Json(ReportAccepted {
        task_id,
        events: event_names(&events),
    }))
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
        TaskCommand, StaleReport, JsonBody,
    ),
)]
pub(crate) async fn fail<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
    payload: Result<Json<FailRequest>, JsonRejection>,
) -> Result<Json<ReportAccepted>, ApiError> {
    let task = TaskRef::parse(&task_id)?;
    let request = body(payload)?;
    let error = StepError {
        message: request.message,
        retryable: request.retryable,
    };
    let events = tasks::report(
        &app.engine,
        app.handout(),
        &task,
        TaskOutcome::Failed { error },
    )
    .await?;
    Ok(Json(ReportAccepted {
        task_id,
        events: event_names(&events),
    }))
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
        TaskCommand, BodyLimit,
    ),
)]
pub(crate) async fn heartbeat<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(task_id): PathParams<String>,
    payload: Result<Option<Json<Option<HeartbeatRequest>>>, JsonRejection>,
) -> Result<Json<HeartbeatAccepted>, ApiError> {
    let task = TaskRef::parse(&task_id)?;
    let progress = optional(payload)?.and_then(|request| request.progress);
    tasks::heartbeat(&app.engine, &app.read_models, &task, progress).await?;
    Ok(Json(HeartbeatAccepted { task_id, progress }))
}
