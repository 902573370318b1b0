//! `/api/v1/workflows`: start, read, pause, resume, cancel.

use std::sync::Arc;

use application::Engine;
use application::ports::EventStore;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::InstanceId;
use domain::instance::{Command, WorkflowInstance};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ApiError;
use crate::auth::Caller;

type Shared<S> = State<Arc<Engine<S>>>;

pub fn router<S: EventStore + 'static>() -> Router<Arc<Engine<S>>> {
    Router::new()
        .route("/", post(start::<S>))
        .route("/{id}", get(show::<S>))
        .route("/{id}/pause", post(pause::<S>))
        .route("/{id}/resume", post(resume::<S>))
        .route("/{id}/cancel", post(cancel::<S>))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    definition: String,
    version: Option<u32>,
    #[serde(default)]
    input: Value,
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload.map(|Json(value)| value).map_err(ApiError::from)
}

fn instance_id(id: &str) -> Result<InstanceId, ApiError> {
    Uuid::parse_str(id)
        .map(InstanceId)
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not a workflow id")))
}

async fn start<S: EventStore>(
    State(engine): Shared<S>,
    caller: Caller,
    payload: Result<Json<StartRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let request = body(payload)?;
    let id = engine
        .start(
            &request.definition,
            request.version,
            request.input,
            &caller.origin(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn show<S: EventStore>(
    State(engine): Shared<S>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let state = engine.state(instance_id(&id)?).await?;
    Ok(Json(view(&state)))
}

async fn operate<S: EventStore>(
    engine: &Engine<S>,
    caller: &Caller,
    id: &str,
    command: Command,
) -> Result<Json<Value>, ApiError> {
    let id = instance_id(id)?;
    engine.execute(id, command, &caller.origin()).await?;
    Ok(Json(view(&engine.state(id).await?)))
}

async fn pause<S: EventStore>(
    State(engine): Shared<S>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operate(&engine, &caller, &id, Command::Pause).await
}

async fn resume<S: EventStore>(
    State(engine): Shared<S>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operate(&engine, &caller, &id, Command::Resume).await
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

async fn cancel<S: EventStore>(
    State(engine): Shared<S>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Option<Json<CancelRequest>>,
) -> Result<Json<Value>, ApiError> {
    let compensate = payload.is_none_or(|Json(request)| request.compensate);
    operate(&engine, &caller, &id, Command::Cancel { compensate }).await
}

/// The state as JSON: status, output, and each step's status and attempts.
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
