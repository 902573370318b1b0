//! What operators and orchestrators poll: `GET /metrics` (Prometheus text
//! format) and `GET /health/ready` (200 when every check passes, else 503,
//! with each check's outcome in the body).

use std::sync::Arc;

use application::metrics::Telemetry;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

/// The Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn operations_router(telemetry: Arc<Telemetry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health/ready", get(ready))
        .with_state(telemetry)
}

async fn metrics(State(telemetry): State<Arc<Telemetry>>) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        telemetry.render().await,
    )
        .into_response()
}

async fn ready(State(telemetry): State<Arc<Telemetry>>) -> Response {
    let readiness = telemetry.readiness().await;
    let checks: Map<String, Value> = readiness
        .checks
        .iter()
        .map(|check| {
            let outcome = match &check.problem {
                None => json!({ "status": "up" }),
                Some(problem) => json!({ "status": "down", "problem": problem }),
            };
            (check.name.to_owned(), outcome)
        })
        .collect();
    let (status, word) = if readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (status, Json(json!({ "status": word, "checks": checks }))).into_response()
}
