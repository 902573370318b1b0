//! The fleet: `GET /api/v1/workers` and `/api/v1/workers/{id}` (what each
//! worker is and does, its status derived now), `POST
//! /api/v1/workers/{id}/drain`, and `GET /api/v1/workers/stream`, the
//! status changes as Server-Sent Events.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use application::clock::Clock;
use application::fleet::{self, DrainOutcome, WorkerRecord, WorkerStatus};
use application::ports::{WorkerChannel, WorkerRegistry};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use futures_lite::Stream;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiError;
use crate::error::Problem;
use crate::extract::PathParams;

/// How often the status stream looks for changes.
const STREAM_EVERY: Duration = Duration::from_secs(1);

/// Where a node finds the worker records, and how it signals a worker.
#[derive(Clone)]
pub struct Fleet {
    pub registry: Arc<dyn WorkerRegistry>,
    /// Absent: drains are recorded (HTTP pollers obey them), not signalled.
    pub channel: Option<Arc<dyn WorkerChannel>>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fleet")
    }
}

type FleetState = State<Option<Fleet>>;

pub fn router<T: Clone + Send + Sync + 'static>(fleet: Option<Fleet>) -> Router<T> {
    Router::new()
        .route("/api/v1/workers", get(list))
        .route("/api/v1/workers/stream", get(stream))
        .route("/api/v1/workers/{id}", get(show))
        .route("/api/v1/workers/{id}/drain", post(drain))
        .with_state(fleet)
}

fn fleet(state: Option<Fleet>) -> Result<Fleet, ApiError> {
    state.ok_or_else(|| {
        ApiError::App(application::Error::unavailable(
            "this node keeps no worker registry",
        ))
    })
}

/// A worker as the engine knows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub(crate) struct Worker {
    id: String,
    name: String,
    host: String,
    version: String,
    /// `bus` (presence messages on RabbitMQ or the embedded bus) or
    /// `http` (seen by its long polls).
    transport: &'static str,
    queues: Vec<String>,
    /// Tasks it runs at once.
    capacity: u32,
    /// The task ids it runs now.
    in_flight: Vec<String>,
    completed: u64,
    failed: u64,
    started_at: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    /// `idle`, `busy`, `draining` or `offline` (unheard of for 30 s, or
    /// said goodbye).
    #[schema(pattern = "^(idle|busy|draining|offline)$")]
    status: &'static str,
}

impl Worker {
    fn new(record: WorkerRecord, status: WorkerStatus) -> Self {
        Self {
            id: record.id,
            name: record.name,
            host: record.host,
            version: record.version,
            transport: record.transport.as_str(),
            queues: record.queues,
            capacity: record.capacity,
            in_flight: record.in_flight,
            completed: record.completed,
            failed: record.failed,
            started_at: record.started_at,
            last_seen: record.last_seen,
            status: status.as_str(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Workers {
    /// By name, then id; offline workers stay listed for a day.
    items: Vec<Worker>,
}

/// Every worker known, with its status now.
#[utoipa::path(
    get, path = "/api/v1/workers", tag = "workers",
    responses(
        (status = 200, description = "The workers", body = Workers),
        (status = 503, description = "The store is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn list(State(state): FleetState) -> Result<Json<Workers>, ApiError> {
    let fleet = fleet(state)?;
    let found = fleet::list(fleet.registry.as_ref(), fleet.clock.now()).await?;
    Ok(Json(Workers {
        items: found
            .into_iter()
            .map(|(record, status)| Worker::new(record, status))
            .collect(),
    }))
}

/// One worker.
#[utoipa::path(
    get, path = "/api/v1/workers/{id}", tag = "workers",
    params(("id" = String, Path, description = "The worker's id")),
    responses(
        (status = 200, description = "The worker", body = Worker),
        (status = 404, description = "No such worker", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn show(
    State(state): FleetState,
    PathParams(id): PathParams<String>,
) -> Result<Json<Worker>, ApiError> {
    let fleet = fleet(state)?;
    let (record, status) = fleet::show(fleet.registry.as_ref(), &id, fleet.clock.now()).await?;
    Ok(Json(Worker::new(record, status)))
}

/// Drains a worker: it finishes its running tasks and takes no new one
/// (within 2 s); the built-in worker then exits.
#[utoipa::path(
    post, path = "/api/v1/workers/{id}/drain", tag = "workers",
    params(("id" = String, Path, description = "The worker's id")),
    responses(
        (status = 202, description = "Asked to drain; the worker as it is now", body = Worker),
        (status = 404, description = "No such worker", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The worker is offline", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn drain(
    State(state): FleetState,
    PathParams(id): PathParams<String>,
) -> Result<Response, ApiError> {
    let fleet = fleet(state)?;
    let now = fleet.clock.now();
    match fleet::drain(fleet.registry.as_ref(), fleet.channel.as_deref(), &id, now).await? {
        DrainOutcome::Draining(record) => {
            let status = record.status(now);
            Ok((StatusCode::ACCEPTED, Json(Worker::new(record, status))).into_response())
        }
        DrainOutcome::Offline(_) => Err(ApiError::Conflict(format!(
            "worker {id} is offline: there is nothing to drain"
        ))),
    }
}

/// The workers' status changes, live: first every worker as it is, then a
/// `worker` event each time one's status changes (checked every second).
#[utoipa::path(
    get, path = "/api/v1/workers/stream", tag = "workers",
    responses(
        (status = 200, description = "An endless stream of `worker` events, each a `Worker`", content_type = "text/event-stream", body = String),
    ),
)]
pub(crate) async fn stream(State(state): FleetState) -> Result<Response, ApiError> {
    let fleet = fleet(state)?;
    Ok(Sse::new(changes(fleet))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// The status each worker was last sent with.
type Sent = HashMap<String, &'static str>;

fn changes(fleet: Fleet) -> impl Stream<Item = Result<Event, Infallible>> {
    let pending: Vec<Worker> = Vec::new();
    futures_lite::stream::unfold(
        (fleet, Sent::new(), pending, true),
        |(fleet, mut sent, mut pending, first)| async move {
            loop {
                if let Some(worker) = pending.pop() {
                    let event = Event::default()
                        .event("worker")
                        .json_data(&worker)
                        .unwrap_or_else(|_| Event::default().comment("unwritable"));
                    return Some((Ok(event), (fleet, sent, pending, false)));
                }
                if !first {
                    tokio::time::sleep(STREAM_EVERY).await;
                }
                let found = match fleet::list(fleet.registry.as_ref(), fleet.clock.now()).await {
                    Ok(found) => found,
                    Err(error) => {
                        tracing::warn!(error = %error.report(), "the workers' stream ended");
                        return None;
                    }
                };
                for (record, status) in found {
                    let status_text = status.as_str();
                    if sent.get(&record.id) != Some(&status_text) {
                        sent.insert(record.id.clone(), status_text);
                        pending.push(Worker::new(record, status));
                    }
                }
                pending.reverse();
                if pending.is_empty() && first {
                    return Some((
                        Ok(Event::default().comment("no workers yet")),
                        (fleet, sent, pending, false),
                    ));
                }
            }
        },
    )
}
