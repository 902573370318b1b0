//! Statistics from the read models: counts by status, success rates and
//! durations, overall and per definition; where steps spend their time.

use application::ports::{self, DefinitionDurations, StatusCount, StepDurations};
use async_graphql::SimpleObject;

use crate::stats::{FINISHED, SUCCEEDED};

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

impl Stats {
    pub(crate) fn new(
        counts: &[StatusCount],
        durations: &[DefinitionDurations],
        steps: &[StepDurations],
    ) -> Self {
        let mut definitions: Vec<DefinitionStats> = Vec::new();
        let mut totals: Vec<Count> = Vec::new();
        for count in counts {
            add(&mut totals, &count.status, count.count);
            if definitions
                .last()
                .is_none_or(|last| last.name != count.definition)
            {
                definitions.push(DefinitionStats {
                    name: count.definition.clone(),
                    counts: Vec::new(),
                    success_rate: None,
                    durations: None,
                    steps: Vec::new(),
                });
            }
            if let Some(last) = definitions.last_mut() {
                add(&mut last.counts, &count.status, count.count);
            }
        }
        for definition in &mut definitions {
            definition.success_rate = success_rate(&definition.counts);
            definition.durations = durations
                .iter()
                .find(|of| of.definition == definition.name)
                .map(|of| Durations::from(&of.durations));
            definition.steps = steps
                .iter()
                .filter(|of| of.definition == definition.name)
                .map(|of| StepStats {
                    step: of.step.clone(),
                    durations: Durations::from(&of.durations),
                })
                .collect();
        }
        totals.sort_by(|a, b| a.status.cmp(&b.status));
        Self {
            success_rate: success_rate(&totals),
            counts: totals,
            definitions,
        }
    }
}

fn add(counts: &mut Vec<Count>, status: &str, count: u64) {
    match counts.iter_mut().find(|known| known.status == status) {
        Some(known) => known.count += count,
        None => counts.push(Count {
            status: status.to_owned(),
            count,
        }),
    }
}

fn success_rate(counts: &[Count]) -> Option<f64> {
    let of = |statuses: &[&str]| -> u64 {
        counts
            .iter()
            .filter(|count| statuses.contains(&count.status.as_str()))
            .map(|count| count.count)
            .sum()
    };
    let finished = of(FINISHED);
    (finished > 0).then(|| of(SUCCEEDED) as f64 / finished as f64)
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
