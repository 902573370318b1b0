//! `/api/v1/workflows`: start, list and read (from the read models), the
//! history (from the log), pause, resume, cancel, signals.

use std::sync::Arc;

use application::Engine;
use application::ports::{EventStore, WorkflowFilter};
use application::workflows::{self, MAX_PAGE, WorkflowView};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Command;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Problem;
use crate::extract::{PathParams, QueryParams, optional};
use crate::problems::{BodyLimit, JsonBody, NoSuchWorkflow, WorkflowRoute};
use crate::views::{HistoryEvent, HistoryPage, Workflow, WorkflowPage};
use crate::{ApiError, App, Caller, ReadModels, Shared, Store, starts};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/", post(starts::start::<S, R>).get(list::<S, R>))
        .route("/batch", post(starts::batch::<S, R>))
        .route("/{id}", get(show::<S, R>))
        .route("/{id}/events", get(events::<S, R>))
        .route("/{id}/pause", post(pause::<S, R>))
        .route("/{id}/resume", post(resume::<S, R>))
        .route("/{id}/cancel", post(cancel::<S, R>))
        .route("/{id}/signals/{name}", post(signal::<S, R>))
}

pub(crate) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload.map(|Json(value)| value).map_err(ApiError::from)
}

pub(crate) fn instance_id(id: &str) -> Result<InstanceId, ApiError> {
    Uuid::parse_str(id)
        .map(InstanceId)
        .map_err(|_| ApiError::BadRequest(format!("`{id}` is not a workflow id")))
}

/// An optional RFC 3339 time parameter.
fn time(name: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|value| {
            DateTime::parse_from_rfc3339(&value)
                .map(|at| at.to_utc())
                .map_err(|_| ApiError::BadRequest(format!("`{name}` must be an RFC 3339 time")))
        })
        .transpose()
}

fn cursor_id(cursor: &str) -> Result<InstanceId, ApiError> {
    instance_id(cursor).map_err(|_| ApiError::BadRequest("`cursor` is not a cursor".to_owned()))
}

/// `limit`: 1 to [`MAX_PAGE`], 50 when absent.
pub(crate) fn page_size(limit: Option<&str>) -> Result<u32, ApiError> {
    let Some(text) = limit else { return Ok(50) };
    text.parse()
        .ok()
        .and_then(workflows::page_size)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("`limit` must be a number from 1 to {MAX_PAGE}"))
        })
}

/// Filters and paging of the workflow list; every filter narrows it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only instances in this status.
    status: Option<String>,
    /// Only instances of this definition (by name).
    definition: Option<String>,
    /// Only instances created after this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    created_after: Option<String>,
    /// Only instances created before this time (RFC 3339).
    #[param(value_type = Option<DateTime<Utc>>)]
    created_before: Option<String>,
    /// Items per page, 1 to 500 (50 when absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    cursor: Option<String>,
}

/// Workflows, newest first, a page at a time.
#[utoipa::path(
    get, path = "/api/v1/workflows", tag = "workflows",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of workflows (without their steps)", body = WorkflowPage),
        (status = 400, description = "A malformed filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn list<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<WorkflowPage>, ApiError> {
    let limit = page_size(query.limit.as_deref())?;
    let filter = WorkflowFilter {
        status: query.status,
        definition: query.definition,
        created_after: time("created_after", query.created_after)?,
        created_before: time("created_before", query.created_before)?,
        before_id: query.cursor.map(|cursor| cursor_id(&cursor)).transpose()?,
        limit,
    };
    let (rows, next) = workflows::list(&app.read_models, filter).await?;
    Ok(Json(WorkflowPage {
        items: rows
            .iter()
            .map(|row| Workflow::projected(row, None))
            .collect(),
        next_cursor: next.map(|id| id.to_string()),
    }))
}

/// A workflow instance with its steps.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = Uuid, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The instance and its steps", body = Workflow),
        WorkflowRoute,
    ),
)]
pub(crate) async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(id): PathParams<String>,
) -> Result<Json<Workflow>, ApiError> {
    let id = instance_id(&id)?;
    Ok(Json(
        match workflows::show(&app.engine, &app.read_models, id).await? {
            WorkflowView::Projected { row, steps } => Workflow::projected(&row, Some(&steps)),
            WorkflowView::Current(state) => Workflow::current(&state),
        },
    ))
}

/// Paging of a workflow's history.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Events after this stream version (0 when absent).
    #[param(value_type = Option<u64>)]
    after: Option<String>,
    /// Items per page, 1 to 500 (50 when absent).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
}

/// A workflow's history, from the event log.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/events", tag = "workflows",
    params(("id" = Uuid, Path, description = "The workflow's id"), HistoryQuery),
    responses(
        (status = 200, description = "A page of its events, oldest first", body = HistoryPage),
        (status = 400, description = "Not a workflow id; a malformed `after` or `limit`", body = Problem, content_type = "application/problem+json"),
        NoSuchWorkflow,
    ),
)]
pub(crate) async fn events<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(id): PathParams<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let id = instance_id(&id)?;
    let limit = page_size(query.limit.as_deref())?;
    let after = match query.after {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::BadRequest("`after` must be a stream version (a number)".to_owned())
        })?,
    };
    let store = app.engine.store();
    let (records, next_after) = workflows::history(store, id, after, limit).await?;
    Ok(Json(HistoryPage {
        items: records.iter().map(HistoryEvent::from).collect(),
        next_after,
    }))
}

pub(crate) async fn operate<S: EventStore>(
    engine: &Engine<S>,
    id: InstanceId,
    command: Command,
    caller: &Caller,
) -> Result<Json<Workflow>, ApiError> {
    let state = workflows::command(engine, id, command, &caller.origin()).await?;
    Ok(Json(Workflow::current(&state)))
}

/// Pauses a running workflow: no step is scheduled until it resumes.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/pause", tag = "workflows",
    params(("id" = Uuid, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 409, description = "The workflow is not running", body = Problem, content_type = "application/problem+json"),
        WorkflowRoute,
    ),
)]
pub(crate) async fn pause<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Workflow>, ApiError> {
    operate(&app.engine, instance_id(&id)?, Command::Pause, &caller).await
}

/// Resumes a paused workflow.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/resume", tag = "workflows",
    params(("id" = Uuid, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 409, description = "The workflow is not paused", body = Problem, content_type = "application/problem+json"),
        WorkflowRoute,
    ),
)]
pub(crate) async fn resume<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<Json<Workflow>, ApiError> {
    operate(&app.engine, instance_id(&id)?, Command::Resume, &caller).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelRequest {
    /// Undo the completed steps first (true when absent).
    #[serde(default = "yes")]
    #[schema(default = true)]
    compensate: bool,
}

fn yes() -> bool {
    true
}

/// Cancels a workflow, compensating its completed steps unless told not to.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/cancel", tag = "workflows",
    params(("id" = Uuid, Path, description = "The workflow's id")),
    request_body(content = Option<CancelRequest>, description = "Optional; without a JSON body the workflow is compensated"),
    responses(
        (status = 200, description = "The engine's state after the command", body = Workflow),
        (status = 400, description = "Not a workflow id; a malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow has ended", body = Problem, content_type = "application/problem+json"),
        NoSuchWorkflow, BodyLimit,
    ),
)]
pub(crate) async fn cancel<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    payload: Result<Option<Json<Option<CancelRequest>>>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let id = instance_id(&id)?;
    let compensate = optional(payload)?.is_none_or(|request| request.compensate);
    let command = Command::Cancel { compensate };
    operate(&app.engine, id, command, &caller).await
}

/// Sends a signal to a workflow: the JSON body is its payload, the caller
/// its sender. A `signal` step waiting for the name completes with the
/// payload; one not reached yet takes it when it is (the signal is kept).
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/signals/{name}", tag = "workflows",
    params(
        ("id" = Uuid, Path, description = "The workflow's id"),
        ("name" = String, Path, description = "The signal's name, as a `signal` step of the definition names it"),
    ),
    request_body(content = serde_json::Value, description = "The payload: any JSON value"),
    responses(
        (status = 200, description = "The engine's state after the signal", body = Workflow),
        (status = 400, description = "Not a workflow id; a body that is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The definition waits for no signal of that name (`waits_for` lists those it does), or the workflow has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The payload breaks the signal's schema (each problem listed)", body = Problem, content_type = "application/problem+json"),
        NoSuchWorkflow, JsonBody,
    ),
)]
pub(crate) async fn signal<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    PathParams((id, name)): PathParams<(String, String)>,
    payload: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Json<Workflow>, ApiError> {
    let id = instance_id(&id)?;
    let payload = body(payload)?;
    let actor = caller.actor();
    let command = Command::Signal {
        name,
        payload,
        actor,
    };
    operate(&app.engine, id, command, &caller).await
}
