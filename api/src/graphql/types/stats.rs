//! Statistics from the read models: counts by status, success rates and
//! durations, overall and per definition; where steps spend their time.

use std::collections::BTreeMap;

use application::ports;
use application::stats::{DefinitionStatistics, Statistics};
use async_graphql::SimpleObject;

#[derive(Debug, SimpleObject)]
pub(crate) struct Stats {
    counts: Vec<Count>,
    /// Completed over finished; null before anything finished.
    success_rate: Option<f64>,
    /// By name.
    definitions: Vec<DefinitionStats>,
}

#[derive(Clone, Debug, PartialEq, SimpleObject)]
pub(crate) struct Count {
    status: String,
    count: u64,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct DefinitionStats {
    name: String,
    counts: Vec<Count>,
    success_rate: Option<f64>,
    /// From start to finish, of finished workflows.
    durations: Option<Durations>,
    /// From scheduled to finished, by step.
    steps: Vec<StepStats>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct StepStats {
    step: String,
    durations: Durations,
}

#[derive(Clone, Debug, SimpleObject)]
pub(crate) struct Durations {
    count: u64,
    mean_ms: Option<f64>,
    p95_ms: Option<f64>,
}

impl From<&ports::DurationStats> for Durations {
    fn from(stats: &ports::DurationStats) -> Self {
        Self {
            count: stats.count,
            mean_ms: stats.mean_ms,
            p95_ms: stats.p95_ms,
        }
    }
}

impl From<&Statistics> for Stats {
    fn from(statistics: &Statistics) -> Self {
        Self {
            counts: counts(&statistics.counts),
            success_rate: statistics.success_rate,
            definitions: statistics
                .definitions
                .iter()
                .map(|(name, of)| DefinitionStats::of(name, of))
                .collect(),
        }
    }
}

impl DefinitionStats {
    fn of(name: &str, statistics: &DefinitionStatistics) -> Self {
        Self {
            name: name.to_owned(),
            counts: counts(&statistics.counts),
            success_rate: statistics.success_rate,
            durations: statistics.durations.as_ref().map(Durations::from),
            steps: statistics
                .steps
                .iter()
                .map(|(step, durations)| StepStats {
                    step: step.clone(),
                    durations: Durations::from(durations),
                })
                .collect(),
        }
    }
}

fn counts(by_status: &BTreeMap<String, u64>) -> Vec<Count> {
    by_status
        .iter()
        .map(|(status, &count)| Count {
            status: status.clone(),
            count,
        })
        .collect()
}

/// Where a step's time goes: waiting for a worker versus running.
#[derive(Debug, SimpleObject)]
pub(crate) struct Bottleneck {
    definition: String,
    step: String,
    samples: u64,
    /// From scheduled to started.
    mean_waiting_ms: f64,
    /// From started to finished.
    mean_running_ms: f64,
}

impl From<ports::Bottleneck> for Bottleneck {
    fn from(found: ports::Bottleneck) -> Self {
        Self {
            definition: found.definition,
            step: found.step,
            samples: found.samples,
            mean_waiting_ms: found.mean_waiting_ms,
            mean_running_ms: found.mean_running_ms,
        }
    }
}
