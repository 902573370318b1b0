//! Each step's figures over a definition's instances: how often it
//! completed, failed or was skipped, and its p50 and p95 durations (from
//! scheduled to completed), so the slowest and the most failing stand out.

use crate::Error;
use crate::ports::{DefinitionStore, InsightQueries};

#[derive(Clone, Debug, PartialEq)]
pub struct StepFigures {
    pub step: String,
    pub completed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Failed over ended (completed or failed); none before either.
    pub failure_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

/// The figures of every step of `definition` that ran, by step id; an
/// unknown definition is [`Error::NotFound`].
pub async fn step_figures<R: InsightQueries + DefinitionStore>(
    reads: &R,
    definition: &str,
) -> Result<Vec<StepFigures>, Error> {
    let known = reads
        .definitions()
        .await?
        .iter()
        .any(|stored| stored.name == definition);
    if !known {
        return Err(Error::NotFound {
            what: format!("definition {definition}"),
        });
    }
    let rows = reads.step_figures(definition).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let ended = row.completed + row.failed;
            StepFigures {
                failure_rate: (ended > 0).then(|| row.failed as f64 / ended as f64),
                step: row.step,
                completed: row.completed,
                failed: row.failed,
                skipped: row.skipped,
                p50_ms: row.p50_ms,
                p95_ms: row.p95_ms,
            }
        })
        .collect())
}
