//! DisTorch's HTTP interface. This slice serves what a node needs to be
//! driven from outside: start a workflow, read its state, pause, resume and
//! cancel it, follow the event feeds, and liveness; every route behind
//! authentication, a permission table and limits. Errors are RFC 9457
//! problem documents.

pub mod auth;
mod error;
mod feeds;
mod limits;
mod workflows;

use std::sync::Arc;

use application::Engine;
use application::feed::EventFeed;
use application::ports::{EventStore, LogHead};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

pub use auth::{Authentication, Caller, JwtVerifier};
pub use error::ApiError;
pub use limits::Limits;

/// How a node's API admits callers.
#[derive(Clone, Debug, Default)]
pub struct ApiConfig {
    pub authentication: Authentication,
    pub limits: Limits,
}

/// The whole router of a node. Every route passes the guard (see
/// [`auth::routes::ROUTES`]); a request over the time limit gets a 503.
pub fn router<S: EventStore + LogHead + 'static>(
    engine: Arc<Engine<S>>,
    feed: Arc<EventFeed<S>>,
    config: ApiConfig,
) -> Router {
    let guard = Arc::new(auth::Guard {
        limiter: limits::RateLimiter::new(&config.limits),
        authentication: config.authentication,
    });
    Router::new()
        .nest("/api/v1/workflows", workflows::router())
        .merge(feeds::router(feed))
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({ "status": "up" })) }),
        )
        .with_state(engine)
        .route_layer(from_fn_with_state(guard, auth::guard))
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(from_fn_with_state(
            config.limits.request_timeout,
            limits::timeout,
        ))
}
