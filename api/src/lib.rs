//! DisTorch's HTTP interface. This slice serves what a node needs to be
//! driven from outside: start a workflow, read its state, pause, resume and
//! cancel it, and liveness. Errors are RFC 9457 problem documents.

mod error;
mod http_metrics;
mod operations;
mod workflows;

use std::sync::Arc;

use application::Engine;
use application::ports::EventStore;
use axum::Router;
use axum::routing::get;

pub use error::ApiError;
pub use http_metrics::track_http;
pub use operations::operations_router;

/// The whole router of a node.
pub fn router<S: EventStore + 'static>(engine: Arc<Engine<S>>) -> Router {
    Router::new()
        .nest("/api/v1/workflows", workflows::router())
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({ "status": "up" })) }),
        )
        .with_state(engine)
}
