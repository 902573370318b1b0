//! `GET /api/v1/definitions/{name}/steps`: each step's durations and
//! failure rate over the definition's instances.

use std::sync::Arc;

use application::step_figures::{self, StepFigures};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Problem;
use crate::extract::PathParams;
use crate::{ApiError, App, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new().route("/api/v1/definitions/{name}/steps", get(steps::<S, R>))
}

/// One step over every instance of the definition (all versions).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepFigure {
    step: String,
    completed: u64,
    /// Ended failed, after its retries.
    failed: u64,
    skipped: u64,
    /// Failed over ended (completed or failed); null before either.
    failure_rate: Option<f64>,
    /// Scheduled to completed, in milliseconds (nearest rank).
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
}

impl From<StepFigures> for StepFigure {
    fn from(found: StepFigures) -> Self {
        Self {
            step: found.step,
            completed: found.completed,
            failed: found.failed,
            skipped: found.skipped,
            failure_rate: found.failure_rate,
            p50_ms: found.p50_ms,
            p95_ms: found.p95_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepFigureList {
    /// The steps that ran, by id.
    items: Vec<StepFigure>,
}

/// Per-step p50/p95 durations and failure rates of a definition.
#[utoipa::path(
    get, path = "/api/v1/definitions/{name}/steps", tag = "definitions",
    params(("name" = String, Path, description = "The definition's name")),
    responses(
        (status = 200, description = "The steps' figures", body = StepFigureList),
        (status = 400, description = "The name is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No definition has this name", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn steps<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    PathParams(name): PathParams<String>,
) -> Result<Json<StepFigureList>, ApiError> {
    let found = step_figures::step_figures(&app.read_models, &name).await?;
    Ok(Json(StepFigureList {
        items: found.into_iter().map(StepFigure::from).collect(),
    }))
}
