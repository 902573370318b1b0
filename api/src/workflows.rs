//! `/api/v1/workflows`: start, list and read (from the read models), the
//! history (from the log), pause, resume, cancel.

use std::collections::HashMap;
use std::sync::Arc;

use application::Engine;
use application::ports::{EventStore, RecordedEvent, StepRow, WorkflowFilter, WorkflowRow};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::{Command, WorkflowInstance};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{ApiError, App, Caller, ReadModels, Shared, Store, starts};

/// The most items one page holds.
pub(crate) const MAX_PAGE: u32 = 500;

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/", post(starts::start::<S, R>).get(list::<S, R>))
        .route("/batch", post(starts::batch::<S, R>))
        .route("/{id}", get(show::<S, R>))
        .route("/{id}/events", get(events::<S, R>))
        .route("/{id}/pause", post(pause::<S, R>))
        .route("/{id}/resume", post(resume::<S, R>))
        .route("/{id}/cancel", post(cancel::<S, R>))
}

pub(crate) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload.map(|Json(value)| value).map_err(ApiError::from)
}

pub(crate) fn instance_id(id: &str) -> Result<InstanceId, ApiError> {
    Uuid::parse_str(id)
        .map(InstanceId)
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not a workflow id")))
}

fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.to_utc())
        .map_err(|_| ApiError::BadRequest(format!("`{name}` must be an RFC 3339 time")))
}

pub(crate) fn page_size(query: &HashMap<String, String>) -> Result<u32, ApiError> {
    match query.get("limit") {
        None => Ok(50),
        Some(text) => match text.parse::<u32>() {
            Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
            _ => Err(ApiError::BadRequest(format!(
                "`limit` must be a number from 1 to {MAX_PAGE}"
            ))),
        },
    }
}

async fn list<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_size(&query)?;
    let filter = WorkflowFilter {
        status: query.get("status").cloned(),
        definition: query.get("definition").cloned(),
        created_after: query
            .get("created_after")
            .map(|at| parse_time("created_after", at))
            .transpose()?,
        created_before: query
            .get("created_before")
            .map(|at| parse_time("created_before", at))
            .transpose()?,
        before_id: query
            .get("cursor")
            .map(|cursor| {
                instance_id(cursor)
                    .map_err(|_| ApiError::BadRequest("`cursor` is not a cursor".to_owned()))
            })
            .transpose()?,
        limit: limit + 1,
    };
    let mut rows = app.read_models.workflows(&filter).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|row| row.id.to_string())
    } else {
        None
    };
    Ok(Json(json!({
        "items": rows.iter().map(|row| workflow_json(row, None)).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = instance_id(&id)?;
    let reads = &app.read_models;
    let (row, steps) = tokio::try_join!(reads.workflow(id), reads.steps(id))?;
    match row {
        Some(row) => Ok(Json(workflow_json(&row, Some(&steps)))),
        // Not projected yet (a read straight after the start): read your
        // own write from the log rather than answer 404.
        None => match app.engine.state(id).await {
            Ok(state) => Ok(Json(view(&state))),
            Err(application::Error::NotFound { .. }) => {
                Err(ApiError::NotFound(format!("workflow {id}")))
            }
            Err(error) => Err(error.into()),
        },
    }
}

/// A workflow from the read model; with its steps when given.
fn workflow_json(row: &WorkflowRow, steps: Option<&[StepRow]>) -> Value {
    let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Some(steps) = steps {
        value["steps"] = steps.iter().map(step_json).collect();
    }
    value
}

pub(crate) fn step_json(step: &StepRow) -> Value {
    json!({
        "id": step.step,
        "type": step.kind,
        "status": step.status,
        "attempt": step.attempt,
        "output": step.output,
        "error": if step.status == "failed" { step.last_error.as_deref() } else { None },
        "last_error": step.last_error,
        "worker": step.worker,
        "progress": step.progress,
        "compensation": step.compensation,
        "scheduled_at": step.scheduled_at,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
    })
}

async fn events<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let id = instance_id(&id)?;
    let limit = page_size(&query)? as usize;
    let after = match query.get("after") {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::BadRequest("`after` must be a stream version (a number)".to_owned())
        })?,
    };
    let mut records = app.engine.store().load(id, after).await?;
    if records.is_empty() && app.engine.store().load(id, 0).await?.is_empty() {
        return Err(ApiError::NotFound(format!("workflow {id}")));
    }
    let next_after = if records.len() > limit {
        records.truncate(limit);
        records.last().map(|record| record.version)
    } else {
        None
    };
    Ok(Json(json!({
        "items": records.iter().map(event_json).collect::<Vec<_>>(),
        "next_after": next_after,
    })))
}

fn event_json(record: &RecordedEvent) -> Value {
    json!({
        "position": record.position,
        "version": record.version,
        "type": record.event_type,
        "data": record.data,
        "actor": record.metadata.actor,
        "occurred_at": record.metadata.occurred_at,
        "recorded_at": record.recorded_at,
    })
}

pub(crate) async fn operate<S: EventStore>(
    engine: &Engine<S>,
    id: InstanceId,
    command: Command,
    caller: &Caller,
) -> Result<Json<Value>, ApiError> {
    engine.execute(id, command, &caller.origin()).await?;
    Ok(Json(view(&engine.state(id).await?)))
}

async fn pause<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operate(&app.engine, instance_id(&id)?, Command::Pause, &caller).await
}

async fn resume<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operate(&app.engine, instance_id(&id)?, Command::Resume, &caller).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelRequest {
    #[serde(default = "yes")]
    compensate: bool,
}

fn yes() -> bool {
    true
}

async fn cancel<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Option<Json<CancelRequest>>,
) -> Result<Json<Value>, ApiError> {
    let compensate = payload.is_none_or(|Json(request)| request.compensate);
    let command = Command::Cancel { compensate };
    operate(&app.engine, instance_id(&id)?, command, &caller).await
}

/// The engine's state after a command (the read models catch up shortly).
fn view(state: &WorkflowInstance) -> Value {
    let steps: Vec<Value> = state
        .definition
        .steps
        .iter()
        .zip(&state.steps)
        .map(|(definition, step)| {
            json!({
                "id": definition.id.as_str(),
                "type": definition.kind.name(),
                "status": step.status.as_str(),
                "attempt": step.attempt,
                "output": step.output.as_deref(),
                "error": step.error.as_ref().map(|error| &error.message),
            })
        })
        .collect();
    json!({
        "id": state.id,
        "definition": state.definition.name,
        "version": state.definition.version,
        "status": state.status.as_str(),
        "input": state.input.as_ref(),
        "output": state.output,
        "error": state.error,
        "steps": steps,
    })
}
