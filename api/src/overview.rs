//! `GET /api/v1/overview`: the console's first page in one request.

use std::collections::BTreeMap;
use std::sync::Arc;

use application::overview::{self, Minute, Overview, QueueWait};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, App, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new().route("/api/v1/overview", get(show::<S, R>))
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActivityMinute {
    /// The minute's start.
    at: DateTime<Utc>,
    started: u64,
    /// Instances that reached each final status in that minute.
    finished: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueWaiting {
    queue: String,
    /// Task attempts scheduled and not started by a worker yet.
    waiting: u64,
    /// When the oldest of them was scheduled.
    oldest_scheduled_at: DateTime<Utc>,
}

/// Where things stand now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OverviewBody {
    at: DateTime<Utc>,
    /// Instances by status, all time.
    counts: BTreeMap<String, u64>,
    /// Each of the last 60 minutes, oldest first.
    minutes: Vec<ActivityMinute>,
    /// Instances that reached each final status in the last hour.
    last_hour: BTreeMap<String, u64>,
    approvals_waiting: u64,
    /// Per queue, the oldest wait first.
    queues: Vec<QueueWaiting>,
}

impl From<Overview> for OverviewBody {
    fn from(overview: Overview) -> Self {
        Self {
            at: overview.at,
            counts: overview.counts,
            minutes: overview
                .minutes
                .into_iter()
                .map(
                    |Minute {
                         at,
                         started,
                         finished,
                     }| ActivityMinute {
                        at,
                        started,
                        finished,
                    },
                )
                .collect(),
            last_hour: overview.last_hour,
            approvals_waiting: overview.approvals_waiting,
            queues: overview
                .queues
                .into_iter()
                .map(
                    |QueueWait {
                         queue,
                         waiting,
                         oldest,
                     }| QueueWaiting {
                        queue,
                        waiting,
                        oldest_scheduled_at: oldest,
                    },
                )
                .collect(),
        }
    }
}

/// Counts by status, activity per minute over the last hour, approvals
/// waiting, and the oldest task waiting per queue.
#[utoipa::path(
    get, path = "/api/v1/overview", tag = "stats",
    responses((status = 200, description = "The overview", body = OverviewBody)),
)]
pub(crate) async fn show<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<OverviewBody>, ApiError> {
    let now = app.engine.clock().now();
    let found = overview::overview(&app.read_models, app.engine.definitions(), now).await?;
    Ok(Json(found.into()))
}
