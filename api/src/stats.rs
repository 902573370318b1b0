//! `/api/v1/stats` and `/api/v1/analytics/bottlenecks`, from the read models.

use std::collections::BTreeMap;
use std::sync::Arc;

use application::ports::{Bottleneck, DurationStats};
use application::stats::{DefinitionStatistics, Statistics, statistics};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, App, ReadModels, Shared, Store};

pub fn router<S: Store, R: ReadModels>() -> Router<Arc<App<S, R>>> {
    Router::new()
        .route("/api/v1/stats", get(stats::<S, R>))
        .route("/api/v1/analytics/bottlenecks", get(bottlenecks::<S, R>))
}

/// How many finished, and how long they took.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub(crate) struct Durations {
    count: u64,
    mean_ms: Option<f64>,
    p95_ms: Option<f64>,
}

impl From<&DurationStats> for Durations {
    fn from(stats: &DurationStats) -> Self {
        Self {
            count: stats.count,
            mean_ms: stats.mean_ms,
            p95_ms: stats.p95_ms,
        }
    }
}

/// One definition's instances.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DefinitionStats {
    /// Instances by status.
    counts: BTreeMap<String, u64>,
    /// Completed over finished; null before any finished.
    success_rate: Option<f64>,
    /// Finished instances, from start to their final state.
    #[serde(skip_serializing_if = "Option::is_none")]
    durations: Option<Durations>,
    /// By step: from scheduled to finished.
    steps: BTreeMap<String, Durations>,
}

impl From<&DefinitionStatistics> for DefinitionStats {
    fn from(statistics: &DefinitionStatistics) -> Self {
        Self {
            counts: statistics.counts.clone(),
            success_rate: statistics.success_rate,
            durations: statistics.durations.as_ref().map(Durations::from),
            steps: durations(&statistics.steps),
        }
    }
}

fn durations(by_step: &BTreeMap<String, DurationStats>) -> BTreeMap<String, Durations> {
    by_step
        .iter()
        .map(|(step, durations)| (step.clone(), Durations::from(durations)))
        .collect()
}

/// Counts by status (overall and per definition), success rates, durations.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    counts: BTreeMap<String, u64>,
    /// Completed over finished; null before any finished.
    success_rate: Option<f64>,
    definitions: BTreeMap<String, DefinitionStats>,
}

impl From<Statistics> for Stats {
    fn from(statistics: Statistics) -> Self {
        Self {
            counts: statistics.counts,
            success_rate: statistics.success_rate,
            definitions: (statistics.definitions.iter())
                .map(|(name, of)| (name.clone(), DefinitionStats::from(of)))
                .collect(),
        }
    }
}

/// Counts, success rates and durations, from the read models.
#[utoipa::path(
    get, path = "/api/v1/stats", tag = "stats",
    responses((status = 200, description = "The statistics", body = Stats)),
)]
pub(crate) async fn stats<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<Stats>, ApiError> {
    Ok(Json(Stats::from(statistics(&app.read_models).await?)))
}

/// A step by its mean time from scheduled to finished.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepBottleneck {
    definition: String,
    step: String,
    samples: u64,
    /// Scheduled to started.
    mean_waiting_ms: f64,
    /// Started to finished.
    mean_running_ms: f64,
}

impl From<Bottleneck> for StepBottleneck {
    fn from(found: Bottleneck) -> Self {
        Self {
            definition: found.definition,
            step: found.step,
            samples: found.samples,
            mean_waiting_ms: found.mean_waiting_ms,
            mean_running_ms: found.mean_running_ms,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Bottlenecks {
    /// The 20 slowest steps, slowest first.
    items: Vec<StepBottleneck>,
}

/// The slowest steps, split into waiting and running time.
#[utoipa::path(
    get, path = "/api/v1/analytics/bottlenecks", tag = "stats",
    responses((status = 200, description = "The slowest steps", body = Bottlenecks)),
)]
pub(crate) async fn bottlenecks<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<Bottlenecks>, ApiError> {
    let items = app.read_models.bottlenecks(20).await?;
    Ok(Json(Bottlenecks {
        items: items.into_iter().map(StepBottleneck::from).collect(),
    }))
}
