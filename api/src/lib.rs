//! DisTorch's HTTP interface: REST under `/api/v1`, reading from the read
//! models (and the log for histories), commanding through the engine.
//! Errors are RFC 9457 problem documents.

mod caller;
mod definitions;
mod error;
mod http_metrics;
mod operations;
mod starts;
mod stats;
mod tasks;
mod workflows;

use std::sync::Arc;

use application::Engine;
use application::ports::{
    DefinitionStore, EventStore, IdempotencyKeys, ProjectionWriter, ReadModelQueries, TimerQueue,
};
use axum::Router;
use axum::routing::get;

pub use caller::Caller;
pub use error::ApiError;
pub use http_metrics::track_http;
pub use operations::operations_router;

/// The event store an API node commands through.
pub trait Store: EventStore + TimerQueue + 'static {}
impl<T: EventStore + TimerQueue + 'static> Store for T {}

/// The read models an API node queries (and stores definitions in).
pub trait ReadModels:
    ReadModelQueries + ProjectionWriter + DefinitionStore + IdempotencyKeys + Clone + 'static
{
}
impl<T> ReadModels for T where
    T: ReadModelQueries + ProjectionWriter + DefinitionStore + IdempotencyKeys + Clone + 'static
{
}

/// What every handler reaches: the engine and the read models.
#[derive(Debug)]
pub struct App<S, R> {
    pub engine: Arc<Engine<S>>,
    pub read_models: R,
}

type Shared<S, R> = axum::extract::State<Arc<App<S, R>>>;

/// The whole router of a node.
pub fn router<S: Store, R: ReadModels>(engine: Arc<Engine<S>>, read_models: R) -> Router {
    let app = Arc::new(App {
        engine,
        read_models,
    });
    Router::new()
        .nest("/api/v1/definitions", definitions::router())
        .nest("/api/v1/workflows", workflows::router())
        .nest("/api/v1/tasks", tasks::router())
        .merge(stats::router())
        .route(
            "/health/live",
            get(|| async { axum::Json(serde_json::json!({ "status": "up" })) }),
        )
        .with_state(app)
}
