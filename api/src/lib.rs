//! DisTorch's HTTP interface: REST under `/api/v1`, reading from the read
//! models (and the log for histories), commanding through the engine, the
//! event feeds (SSE and WebSocket), GraphQL at `/graphql`, every route behind authentication, a
//! permission table and limits. Errors are RFC 9457 problem documents.

mod approvals;
pub mod auth;
mod caller;
mod console;
mod definition_graph;
mod definitions;
mod error;
mod extract;
mod feeds;
pub mod graphql;
mod http_metrics;
mod limits;
mod me;
pub mod openapi;
mod operations;
mod overview;
mod poll;
mod problems;
mod starts;
mod stats;
mod step_figures;
mod tasks;
mod views;
mod workflows;

use std::sync::Arc;

use application::Engine;
use application::feed::EventFeed;
use application::ports::{
    DefinitionStore, EventStore, IdempotencyKeys, InsightQueries, LogHead, ProjectionWriter,
    ReadModelQueries, TimerQueue,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

pub use auth::{Authentication, JwtVerifier};
pub use caller::Caller;
pub use error::ApiError;
pub use http_metrics::track_http;
pub use limits::{DEFAULT_BURST, DEFAULT_REQUESTS_PER_SECOND, Limits};
pub use operations::{live, operations_router};
pub use poll::{Handout, MAX_WAIT_SECONDS};

/// The event store an API node commands through.
pub trait Store: EventStore + TimerQueue + LogHead + 'static {}
impl<T: EventStore + TimerQueue + LogHead + 'static> Store for T {}

/// The read models an API node queries (and stores definitions in).
pub trait ReadModels:
    ReadModelQueries
    + InsightQueries
    + ProjectionWriter
    + DefinitionStore
    + IdempotencyKeys
    + Clone
    + 'static
{
}
impl<T> ReadModels for T where
    T: ReadModelQueries
        + InsightQueries
        + ProjectionWriter
        + DefinitionStore
        + IdempotencyKeys
        + Clone
        + 'static
{
}

/// What every handler reaches: the engine, the read models, and where
/// polled tasks come from.
#[derive(Debug)]
pub struct App<S, R> {
    pub engine: Arc<Engine<S>>,
    pub read_models: R,
    pub handout: Option<Handout>,
}

impl<S, R> App<S, R> {
    /// The task handout, as the use cases take it.
    pub(crate) fn handout(&self) -> Option<&dyn application::ports::TaskHandout> {
        self.handout
            .as_ref()
            .map(|Handout(handout)| handout.as_ref())
    }
}

type Shared<S, R> = axum::extract::State<Arc<App<S, R>>>;

/// How a node's API admits callers.
#[derive(Clone, Debug, Default)]
pub struct ApiConfig {
    pub authentication: Authentication,
    pub limits: Limits,
    /// Where `GET /api/v1/tasks/poll` takes tasks from; without it the
    /// route answers 503.
    pub handout: Option<Handout>,
}

/// The whole router of a node. Every route passes the guard (see
/// [`auth::routes::ROUTES`]); a request over the time limit gets a 503.
pub fn router<S: Store, R: ReadModels>(
    engine: Arc<Engine<S>>,
    read_models: R,
    feed: Arc<EventFeed<S>>,
    config: ApiConfig,
) -> Router {
    let guard = Arc::new(auth::Guard {
        limiter: limits::RateLimiter::new(&config.limits),
        authentication: config.authentication,
    });
    let polls = poll::router(
        engine.clone(),
        config.handout.clone(),
        config.limits.request_timeout,
    );
    let app = Arc::new(App {
        engine,
        read_models,
        handout: config.handout,
    });
    Router::new()
        .nest("/api/v1/definitions", definitions::router())
        .nest("/api/v1/workflows", workflows::router())
        .nest("/api/v1/tasks", tasks::router())
        .merge(stats::router())
        .merge(overview::router())
        .merge(approvals::router())
        .merge(step_figures::router())
        .route("/api/v1/me", get(me::me))
        .merge(graphql::router(app.clone(), feed.clone(), guard.clone()))
        .merge(feeds::router(feed))
        .merge(polls)
        .merge(openapi::router())
        .route("/health/live", get(operations::live))
        .with_state(app)
        .route_layer(from_fn_with_state(guard, auth::guard))
        .fallback(console::fallback)
        .layer(DefaultBodyLimit::max(config.limits.body_bytes))
        .layer(from_fn_with_state(
            config.limits.request_timeout,
            limits::timeout,
        ))
}
