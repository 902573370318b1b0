//! DisTorch's HTTP interface. This slice serves what a node needs to be
//! driven from outside: start a workflow, read its state, pause, resume and
//! cancel it, and liveness. Errors are RFC 9457 problem documents.

mod error;
mod feeds;
mod workflows;

use std::sync::Arc;

use application::Engine;
use application::feed::EventFeed;
use application::ports::{EventStore, LogHead};
use axum::Router;
use axum::routing::get;

pub use error::ApiError;

/// The whole router of a node.
pub fn router<S: EventStore + LogHead + 'static>(
    engine: Arc<Engine<S>>,
    feed: Arc<EventFeed<S>>,
) -> Router {
    Router::new()
        .nest("/api/v1/workflows", workflows::router())
        .merge(feeds::router(feed))
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({ "status": "up" })) }),
        )
        .with_state(engine)
}
