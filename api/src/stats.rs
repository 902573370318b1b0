//! `/api/v1/stats` and `/api/v1/analytics/bottlenecks`, from the read models.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

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

async fn stats<S: Store, R: ReadModels>(State(app): Shared<S, R>) -> Result<Json<Value>, ApiError> {
    let reads = &app.read_models;
    let (counts, durations, steps) = tokio::try_join!(
        reads.status_counts(),
        reads.definition_durations(),
        reads.step_durations()
    )?;
    let mut by_definition: BTreeMap<&str, Value> = BTreeMap::new();
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for count in &counts {
        let entry = by_definition
            .entry(count.definition.as_str())
            .or_insert_with(|| json!({ "counts": {}, "steps": {} }));
        entry["counts"][count.status.as_str()] = json!(count.count);
        *totals.entry(count.status.as_str()).or_default() += count.count;
    }
    for (definition, entry) in by_definition.iter_mut() {
        let of = |statuses: &[&str]| -> u64 {
            counts
                .iter()
                .filter(|c| c.definition == *definition && statuses.contains(&c.status.as_str()))
                .map(|c| c.count)
                .sum()
        };
        entry["success_rate"] = success_rate(of(SUCCEEDED), of(FINISHED));
    }
    for duration in &durations {
        if let Some(entry) = by_definition.get_mut(duration.definition.as_str()) {
            entry["durations"] = json!(duration.durations);
        }
    }
    for step in &steps {
        if let Some(entry) = by_definition.get_mut(step.definition.as_str()) {
            entry["steps"][step.step.as_str()] = json!(step.durations);
        }
    }
    let of = |statuses: &[&str]| -> u64 {
        statuses
            .iter()
            .map(|s| totals.get(s).copied().unwrap_or(0))
            .sum()
    };
    Ok(Json(json!({
        "counts": totals,
        "success_rate": success_rate(of(SUCCEEDED), of(FINISHED)),
        "definitions": by_definition,
    })))
}

/// Succeeded over finished, or null before anything finished.
fn success_rate(succeeded: u64, finished: u64) -> Value {
    if finished == 0 {
        Value::Null
    } else {
        json!(succeeded as f64 / finished as f64)
    }
}

async fn bottlenecks<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
) -> Result<Json<Value>, ApiError> {
    let items = app.read_models.bottlenecks(20).await?;
    Ok(Json(json!({ "items": items })))
}
