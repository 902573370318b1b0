//! `GET /api/v1/tasks/poll`: a long poll for workers that speak HTTP only.
//! It hands out one task of a queue (the message workers get from
//! RabbitMQ), or answers 204 when none came within the wait. The worker
//! reports through `/api/v1/tasks/{task_id}/complete|fail|heartbeat`.
//!
//! The task leaves its queue when it is handed out (see
//! [`application::ports::TaskHandout`]): a worker that dies before it
//! reports leaves the attempt to the step's `timeout` or
//! `heartbeat_timeout`, which fails it and schedules the next attempt.

use std::sync::Arc;
use std::time::Duration;

use application::Engine;
use application::fleet;
use application::messages::TaskMessage;
use application::ports::{EventStore, TaskHandout, TimerQueue};
use application::tasks;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use domain::instance::effects::TaskKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Problem;
use crate::extract::QueryParams;
use crate::{ApiError, Caller, Fleet};

/// The longest wait a poll may ask for.
pub const MAX_WAIT_SECONDS: u64 = 30;

/// What hands tasks out to pollers; cheap to clone.
#[derive(Clone)]
pub struct Handout(pub Arc<dyn TaskHandout>);

impl std::fmt::Debug for Handout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handout")
    }
}

pub(crate) struct Poll<S> {
    engine: Arc<Engine<S>>,
    handout: Option<Handout>,
    /// Registers pollers as workers, and holds back tasks from a draining one.
    fleet: Option<Fleet>,
    /// Below the node's request timeout, so a poll is never cut off after
    /// it took a task.
    max_wait: Duration,
}

pub fn router<S, T>(
    engine: Arc<Engine<S>>,
    handout: Option<Handout>,
    fleet: Option<Fleet>,
    request_timeout: Duration,
) -> Router<T>
where
    S: EventStore + TimerQueue + 'static,
    T: Clone + Send + Sync + 'static,
{
    let max_wait = Duration::from_secs(MAX_WAIT_SECONDS)
        .min(request_timeout.saturating_sub(Duration::from_secs(1)));
    Router::new()
        .route("/api/v1/tasks/poll", get(poll::<S>))
        .with_state(Arc::new(Poll {
            engine,
            handout,
            fleet,
            max_wait,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PollQuery {
    /// The queue (as in the workflow's `queue:`).
    #[param(required = true, pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
    queue: Option<String>,
    /// Seconds to wait for a task, 0 to 30 (0 when absent); capped below
    /// the node's request timeout.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 30)]
    wait: Option<String>,
    /// The polling worker's id, the same on every poll of its life (a
    /// UUID, say): it is listed at `/api/v1/workers` under it. Without
    /// it, the worker is `http:<caller>`.
    #[param(max_length = 200)]
    worker_id: Option<String>,
    /// The worker's name in that list (default: its id).
    #[param(max_length = 200)]
    name: Option<String>,
}

impl PollQuery {
    fn queue(&self) -> Result<&str, ApiError> {
        self.queue
            .as_deref()
            .ok_or_else(|| ApiError::BadRequest("`queue` is required".into()))
    }

    fn worker(&self, caller: &Caller) -> Result<(String, String), ApiError> {
        let id = match self.worker_id.as_deref() {
            None => format!("http:{}", caller.id),
            Some(id) if !id.is_empty() && id.len() <= 200 => id.to_owned(),
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "`worker_id` has 1 to 200 characters".into(),
                ));
            }
        };
        let name = match self.name.as_deref() {
            None => id.clone(),
            Some(name) if name.len() <= 200 => name.to_owned(),
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "`name` has at most 200 characters".into(),
                ));
            }
        };
        Ok((id, name))
    }

    fn wait(&self) -> Result<Duration, ApiError> {
        match self.wait.as_deref() {
            None => Ok(Duration::ZERO),
            Some(text) => match text.parse::<u64>() {
                Ok(seconds) if seconds <= MAX_WAIT_SECONDS => Ok(Duration::from_secs(seconds)),
                _ => Err(ApiError::BadRequest(format!(
                    "`wait` must be a number of seconds from 0 to {MAX_WAIT_SECONDS}"
                ))),
            },
        }
    }
}

/// A task, as workers get it from RabbitMQ (`docs/worker-protocol.md`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TaskMessage)]
pub(crate) struct Task {
    /// `<instance_id>:<step>:<kind>:<attempt>`: what the reports name.
    task_id: String,
    instance_id: Uuid,
    workflow: String,
    step: String,
    attempt: u32,
    /// `forward`, or `compensation`: undo what the step did.
    #[schema(pattern = "^(forward|compensation)$")]
    kind: &'static str,
    queue: String,
    input: Value,
    /// Stable across the attempts and redeliveries of the step.
    idempotency_key: String,
    /// When the engine gives up on this attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<DateTime<Utc>>,
    priority: u8,
    /// The step's `heartbeat_timeout` in milliseconds, when it has one:
    /// heartbeat well within it.
    #[serde(skip_serializing_if = "Option::is_none")]
    heartbeat_timeout_ms: Option<u64>,
    /// The W3C trace context of the attempt, to continue.
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
    /// JSON Pointers to the strings of `input` that hold `${ secrets.NAME }`
    /// references: resolve those, and no others.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<String>,
}

impl From<TaskMessage> for Task {
    fn from(task: TaskMessage) -> Self {
        Self {
            task_id: task.task_id,
            instance_id: task.instance_id.0,
            workflow: task.workflow,
            step: task.step.as_str().to_owned(),
            attempt: task.attempt,
            kind: match task.kind {
                TaskKind::Forward => "forward",
                TaskKind::Compensation => "compensation",
            },
            queue: task.queue,
            input: task.input,
            idempotency_key: task.idempotency_key,
            deadline: task.deadline,
            priority: task.priority,
            heartbeat_timeout_ms: task.heartbeat_timeout_ms,
            traceparent: task.traceparent,
            secrets: task.secrets,
        }
    }
}

/// Takes one task of a queue, waiting up to `wait` seconds for one. The
/// task is the worker's from then on: it is gone from the queue, and its
/// start is recorded with the caller as the worker.
#[utoipa::path(
    get, path = "/api/v1/tasks/poll", tag = "tasks",
    params(PollQuery),
    responses(
        (status = 200, description = "A task; report on it with its `task_id`", body = Task),
        (status = 204, description = "No task came within the wait; with `DisTorch-Worker-Draining: true`, the worker is draining and gets no more tasks"),
        (status = 400, description = "No or a malformed `queue`; a `wait` out of range", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The broker is unavailable, or this node hands out no tasks", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn poll<S: EventStore + TimerQueue + 'static>(
    State(poll): State<Arc<Poll<S>>>,
    caller: Caller,
    QueryParams(query): QueryParams<PollQuery>,
) -> Result<Response, ApiError> {
    let queue = query.queue()?;
    let wait = query.wait()?.min(poll.max_wait);
    let (worker_id, name) = query.worker(&caller)?;
    let handout = poll
        .handout
        .as_ref()
        .map(|Handout(handout)| handout.as_ref());
    let worker = format!("http:{}", caller.id);
    let Some(fleet) = &poll.fleet else {
        return Ok(answer(
            tasks::take(&poll.engine, handout, queue, wait, worker).await?,
        ));
    };
    let registry = fleet.registry.as_ref();
    // In slices, so that a drain holds back tasks within a slice.
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if fleet::poll_seen(registry, &worker_id, &name, queue, fleet.clock.now()).await? {
            return Ok(draining());
        }
        let slice = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .min(DRAIN_CHECK);
        let taken = tasks::take(&poll.engine, handout, queue, slice, worker.clone()).await?;
        if let Some(task) = &taken {
            fleet::task_taken(registry, &worker_id, &task.task_id, fleet.clock.now()).await?;
        }
        if taken.is_some() || tokio::time::Instant::now() >= deadline {
            return Ok(answer(taken));
        }
    }
}

/// How often a waiting poll checks that its worker is not draining.
const DRAIN_CHECK: Duration = Duration::from_secs(1);

fn answer(taken: Option<TaskMessage>) -> Response {
    match taken {
        Some(task) => axum::Json(Task::from(task)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// The answer to a draining worker's poll: no task, and why.
fn draining() -> Response {
    (
        StatusCode::NO_CONTENT,
        [("distorch-worker-draining", "true")],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::instance::effects::Dispatch;

    #[test]
    fn a_polled_task_is_the_message_workers_get_from_the_broker() {
        let message = TaskMessage::new(
            domain::InstanceId(Uuid::nil()),
            "order",
            Dispatch {
                step: "charge".into(),
                attempt: 2,
                kind: TaskKind::Forward,
                queue: "payments".into(),
                input: serde_json::json!({ "amount": 3 }),
                idempotency_key: "k".into(),
                deadline: Some(Utc::now()),
                priority: 4,
                heartbeat_timeout: Some(Duration::from_secs(20)),
                secrets: vec!["/token".into()],
            },
        )
        .traced("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        let expected = serde_json::to_value(&message).unwrap();
        assert_eq!(serde_json::to_value(Task::from(message)).unwrap(), expected);
    }
}
