//! `/api/v1/schedules`: create, list, read, pause, resume and delete
//! schedules ([`application::schedules`]).

use std::sync::Arc;

use application::ports::ScheduleRecord;
use application::schedules::{self, NewSchedule, ScheduleError, ScheduleView};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use domain::schedule::{OverlapPolicy, parse_duration};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Problem;
use crate::extract::PathParams;
use crate::problems::{JsonBody, NoSuchSchedule};
use crate::workflows::body;
use crate::{ApiError, App, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/", get(list::<S, R>).post(create::<S, R>))
        .route("/{name}", get(show::<S, R>).delete(delete::<S, R>))
        .route("/{name}/pause", post(pause::<S, R>))
        .route("/{name}/resume", post(resume::<S, R>))
}

impl From<ScheduleError> for ApiError {
    fn from(error: ScheduleError) -> Self {
        match error {
            ScheduleError::Invalid(detail) => ApiError::Unprocessable {
                detail,
                problems: Vec::new(),
            },
            ScheduleError::Exists(_) => ApiError::Conflict(error.to_string()),
            ScheduleError::NotFound(name) => ApiError::NotFound(format!("schedule `{name}`")),
            ScheduleError::Failed(error) => error.into(),
        }
    }
}

/// A schedule to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleRequest {
    /// 1 to 100 letters, digits, `-`, `_` or `.`.
    name: String,
    /// The definition each tick starts.
    definition: String,
    /// Its version; the latest at each tick when absent.
    version: Option<u32>,
    /// The input of every start, checked against the definition's schema.
    #[serde(default)]
    input: Value,
    /// Five fields (`minute hour day month weekday`) or six (seconds first).
    cron: String,
    /// An IANA time zone (`Europe/Paris`); UTC when absent.
    timezone: Option<String>,
    /// `skip` (default), `buffer_one`, `allow` or `cancel_previous`.
    #[schema(value_type = Option<String>)]
    overlap: Option<OverlapPolicy>,
    /// How late a tick may still fire after downtime (`10m`); 1m when
    /// absent, 10s at least.
    catchup_window: Option<String>,
}

/// A schedule, its state and its next fire times.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Schedule {
    name: String,
    definition: String,
    version: Option<u32>,
    input: Value,
    cron: String,
    timezone: String,
    #[schema(value_type = String)]
    overlap: OverlapPolicy,
    /// In seconds.
    catchup_window_seconds: u64,
    paused: bool,
    /// The next ticks (none while paused); the first may be overdue by a
    /// moment.
    next_fire_times: Vec<DateTime<Utc>>,
    /// A tick waiting for the previous workflow (`buffer_one`).
    buffered_tick: Option<DateTime<Utc>>,
    /// The workflow the last tick started, and that tick.
    last_workflow: Option<Uuid>,
    last_tick: Option<DateTime<Utc>>,
    /// Ticks dropped as older than the catch-up window.
    missed_ticks: u64,
    /// `api`, or `definition` when declared by a definition's `schedules:`.
    origin: String,
    created_at: DateTime<Utc>,
}

impl From<ScheduleView> for Schedule {
    fn from(view: ScheduleView) -> Self {
        let ScheduleRecord {
            name,
            definition,
            version,
            input,
            cron,
            timezone,
            overlap,
            catchup_window,
            paused,
            buffered,
            last_instance,
            last_tick,
            missed,
            origin,
            created_at,
            ..
        } = view.schedule;
        Self {
            name,
            definition,
            version,
            input,
            cron,
            timezone,
            overlap,
            catchup_window_seconds: catchup_window.as_secs(),
            paused,
            next_fire_times: view.next_fire_times,
            buffered_tick: buffered,
            last_workflow: last_instance.map(|id| id.0),
            last_tick,
            missed_ticks: missed,
            origin,
            created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScheduleList {
    items: Vec<Schedule>,
}

/// Creates a schedule: the cron, time zone and a start of the definition
/// with the input are checked now.
#[utoipa::path(
    post, path = "/api/v1/schedules", tag = "schedules",
    request_body = ScheduleRequest,
    responses(
        (status = 201, description = "Created", body = Schedule),
        (status = 400, description = "A malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A schedule of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The name, cron, time zone or catch-up window is invalid, or the start is refused", body = Problem, content_type = "application/problem+json"),
        JsonBody,
    ),
)]
pub(crate) async fn create<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    payload: Result<Json<ScheduleRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Schedule>), ApiError> {
    let request = body(payload)?;
    let catchup_window = request
        .catchup_window
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|error| ScheduleError::Invalid(error.to_string()))?;
    let new = NewSchedule {
        name: request.name,
        definition: request.definition,
        version: request.version,
        input: request.input,
        cron: request.cron,
        timezone: request.timezone,
        overlap: request.overlap.unwrap_or_default(),
        catchup_window,
    };
    let view = schedules::create(&app.engine, &app.read_models, new).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// Every schedule, by name.
#[utoipa::path(
    get, path = "/api/v1/schedules", tag = "schedules",
    responses((status = 200, description = "The schedules", body = ScheduleList)),
)]
pub(crate) async fn list<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<ScheduleList>, ApiError> {
    let views = schedules::list(&app.read_models).await?;
    let items = views.into_iter().map(Schedule::from).collect();
    Ok(Json(ScheduleList { items }))
}

/// A schedule and its next fire times.
#[utoipa::path(
    get, path = "/api/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "The schedule's name")),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        NoSuchSchedule,
    ),
)]
pub(crate) async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(schedules::show(&app.read_models, &name).await?.into()))
}

/// Deletes a schedule; workflows it started go on.
#[utoipa::path(
    delete, path = "/api/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path, description = "The schedule's name")),
    responses(
        (status = 204, description = "Deleted"),
        NoSuchSchedule,
    ),
)]
pub(crate) async fn delete<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    schedules::delete(&app.read_models, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses a schedule: no tick fires until it is resumed.
#[utoipa::path(
    post, path = "/api/v1/schedules/{name}/pause", tag = "schedules",
    params(("name" = String, Path, description = "The schedule's name")),
    responses(
        (status = 200, description = "Paused", body = Schedule),
        NoSuchSchedule,
    ),
)]
pub(crate) async fn pause<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(
        schedules::pause(&app.read_models, &name).await?.into(),
    ))
}

/// Resumes a schedule from its next tick after now (ticks while paused do
/// not fire).
#[utoipa::path(
    post, path = "/api/v1/schedules/{name}/resume", tag = "schedules",
    params(("name" = String, Path, description = "The schedule's name")),
    responses(
        (status = 200, description = "Resumed", body = Schedule),
        NoSuchSchedule,
    ),
)]
pub(crate) async fn resume<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Schedule>, ApiError> {
    let view = schedules::resume(&app.engine, &app.read_models, &name).await?;
    Ok(Json(view.into()))
}
