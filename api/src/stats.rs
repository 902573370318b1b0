//! `/api/v1/stats` and `/api/v1/analytics/bottlenecks`, from the read models.

use std::collections::BTreeMap;
use std::sync::Arc;

use application::ports::{Bottleneck, DurationStats};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, App, ReadModels, Shared, Store};

/// Statuses that count as a success, and as a finished instance.
pub(crate) const SUCCEEDED: &[&str] = &["completed"];
pub(crate) const FINISHED: &[&str] = &[
    "completed",
    "failed",
    "compensated",
    "compensation_failed",
    "cancelled",
];

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
#[derive(Debug, Default, Serialize, ToSchema)]
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

/// Counts by status (overall and per definition), success rates, durations.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    counts: BTreeMap<String, u64>,
    /// Completed over finished; null before any finished.
    success_rate: Option<f64>,
    definitions: BTreeMap<String, DefinitionStats>,
}

/// Counts, success rates and durations, from the read models.
#[utoipa::path(
    get, path = "/api/v1/stats", tag = "stats",
    responses((status = 200, description = "The statistics", body = Stats)),
)]
pub(crate) async fn stats<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<Stats>, ApiError> {
    let reads = &app.read_models;
    let (counts, durations, steps) = tokio::try_join!(
        reads.status_counts(),
        reads.definition_durations(),
        reads.step_durations()
    )?;
    let mut by_definition: BTreeMap<String, DefinitionStats> = BTreeMap::new();
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for count in &counts {
        let entry = by_definition.entry(count.definition.clone()).or_default();
        entry.counts.insert(count.status.clone(), count.count);
        *totals.entry(count.status.clone()).or_default() += count.count;
    }
    for (definition, entry) in by_definition.iter_mut() {
        let of = |statuses: &[&str]| -> u64 {
            counts
                .iter()
                .filter(|c| c.definition == *definition && statuses.contains(&c.status.as_str()))
                .map(|c| c.count)
                .sum()
        };
        entry.success_rate = success_rate(of(SUCCEEDED), of(FINISHED));
    }
    for duration in &durations {
        if let Some(entry) = by_definition.get_mut(&duration.definition) {
            entry.durations = Some(Durations::from(&duration.durations));
        }
    }
    for step in &steps {
        if let Some(entry) = by_definition.get_mut(&step.definition) {
            entry
                .steps
                .insert(step.step.clone(), Durations::from(&step.durations));
        }
    }
    let of = |statuses: &[&str]| -> u64 {
        statuses
            .iter()
            .map(|s| totals.get(*s).copied().unwrap_or(0))
            .sum()
    };
    Ok(Json(Stats {
        success_rate: success_rate(of(SUCCEEDED), of(FINISHED)),
        counts: totals,
        definitions: by_definition,
    }))
}

/// Succeeded over finished, or none before anything finished.
fn success_rate(succeeded: u64, finished: u64) -> Option<f64> {
    (finished > 0).then(|| succeeded as f64 / finished as f64)
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
