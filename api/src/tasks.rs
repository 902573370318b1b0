//! `/api/v1/tasks/{task_id}`: a step of a workflow. Operators retry, skip,
//! approve and reject it; workers that report over HTTP complete, fail and
//! heartbeat it (the same handling as results from the bus).
//!
//! A task id is `<workflow id>:<step>:<kind>:<attempt>` as in task messages;
//! the operator commands and the read also take `<workflow id>:<step>`.

use std::sync::Arc;

use application::messages::{TaskOutcome, TaskResult};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::instance::effects::TaskKind;
use domain::instance::{Command, StepError};
use domain::{InstanceId, StepId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::workflows::{body, instance_id, operate, step_json};
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

async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(task_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let steps = app.read_models.steps(task.instance).await?;
    let step = steps
        .iter()
        .find(|step| step.step == task.step.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("task {task_id}")))?;
    let mut body = step_json(step);
    body["workflow_id"] = json!(task.instance);
    body["task_id"] = json!(task_id);
    Ok(Json(body))
}

async fn retry<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(task_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let command = Command::RetryStep { step: task.step };
    operate(&app.engine, task.instance, command, &caller).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipRequest {
    /// What the step's dependants see as its output.
    #[serde(default)]
    output: Value,
}

async fn skip<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(task_id): Path<String>,
    payload: Result<Json<SkipRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let output = body(payload)?.output;
    let command = Command::SkipStep {
        step: task.step,
        output,
    };
    operate(&app.engine, task.instance, command, &caller).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionRequest {
    comment: Option<String>,
}

async fn approve<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(task_id): Path<String>,
    payload: Option<Json<DecisionRequest>>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let command = Command::Approve {
        step: task.step,
        actor: caller.actor(),
        comment: payload.and_then(|Json(request)| request.comment),
    };
    operate(&app.engine, task.instance, command, &caller).await
}

async fn reject<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(task_id): Path<String>,
    payload: Option<Json<DecisionRequest>>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let command = Command::Reject {
        step: task.step,
        actor: caller.actor(),
        comment: payload.and_then(|Json(request)| request.comment),
    };
    operate(&app.engine, task.instance, command, &caller).await
}

/// A worker's report on the attempt the task id names.
async fn report<S: Store, R: ReadModels>(
    app: &App<S, R>,
    task: TaskRef,
    outcome: TaskOutcome,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({
        "task_id": task.text,
        "events": events.iter().map(|event| event.name()).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteRequest {
    #[serde(default)]
    output: Value,
}

async fn complete<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(task_id): Path<String>,
    payload: Result<Json<CompleteRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let output = body(payload)?.output;
    report(&app, task, TaskOutcome::Completed { output }).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailRequest {
    message: String,
    /// Whether another attempt may succeed.
    #[serde(default = "retryable_by_default")]
    retryable: bool,
}

fn retryable_by_default() -> bool {
    true
}

async fn fail<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(task_id): Path<String>,
    payload: Result<Json<FailRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let request = body(payload)?;
    let error = StepError {
        message: request.message,
        retryable: request.retryable,
    };
    report(&app, task, TaskOutcome::Failed { error }).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeartbeatRequest {
    /// 0 to 100.
    progress: Option<u8>,
}

/// Pushes the attempt's heartbeat deadline; records its progress.
async fn heartbeat<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(task_id): Path<String>,
    payload: Option<Json<HeartbeatRequest>>,
) -> Result<Json<Value>, ApiError> {
    let task = task_ref(&task_id)?;
    let progress = payload.and_then(|Json(request)| request.progress);
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
    Ok(Json(json!({ "task_id": task.text, "progress": progress })))
}
