//! Statistics of the instances, from the read models: counts by status,
//! success rates (completed over final) and durations, overall and per
//! definition. REST and GraphQL both show these.

use std::collections::BTreeMap;

use domain::instance::InstanceStatus;

use crate::Error;
use crate::ports::{
    DefinitionDurations, DurationStats, ReadModelQueries, StatusCount, StepDurations,
};

/// Every instance's counts, and each definition's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statistics {
    /// Instances by status.
    pub counts: BTreeMap<String, u64>,
    /// Completed over final; none before any instance ended.
    pub success_rate: Option<f64>,
    /// By definition name.
    pub definitions: BTreeMap<String, DefinitionStatistics>,
}

/// One definition's instances.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DefinitionStatistics {
    /// Its instances by status.
    pub counts: BTreeMap<String, u64>,
    /// Completed over final; none before any instance ended.
    pub success_rate: Option<f64>,
    /// Its instances that ended, from start to their final state.
    pub durations: Option<DurationStats>,
    /// By step: from scheduled to completed.
    pub steps: BTreeMap<String, DurationStats>,
}

/// The statistics as the read models hold them now.
pub async fn statistics(read_models: &impl ReadModelQueries) -> Result<Statistics, Error> {
    let (counts, durations, steps) = tokio::try_join!(
        read_models.status_counts(),
        read_models.definition_durations(),
        read_models.step_durations()
    )?;
    Ok(Statistics::of(&counts, &durations, &steps))
}

impl Statistics {
    /// Aggregates the read models' rows. Durations of a definition without
    /// instances are left out.
    pub fn of(
        counts: &[StatusCount],
        durations: &[DefinitionDurations],
        steps: &[StepDurations],
    ) -> Self {
        let mut statistics = Self::default();
        for count in counts {
            let definition = statistics
                .definitions
                .entry(count.definition.clone())
                .or_default();
            *definition.counts.entry(count.status.clone()).or_default() += count.count;
            *statistics.counts.entry(count.status.clone()).or_default() += count.count;
        }
        for definition in statistics.definitions.values_mut() {
            definition.success_rate = success_rate(&definition.counts);
        }
        for of in durations {
            if let Some(definition) = statistics.definitions.get_mut(&of.definition) {
                definition.durations = Some(of.durations.clone());
            }
        }
        for of in steps {
            if let Some(definition) = statistics.definitions.get_mut(&of.definition) {
                definition
                    .steps
                    .insert(of.step.clone(), of.durations.clone());
            }
        }
        statistics.success_rate = success_rate(&statistics.counts);
        statistics
    }
}

/// Completed over final, or none before any instance ended.
fn success_rate(counts: &BTreeMap<String, u64>) -> Option<f64> {
    let of = |wanted: fn(InstanceStatus) -> bool| -> u64 {
        counts
            .iter()
            .filter(|(status, _)| status.parse().is_ok_and(wanted))
            .map(|(_, count)| count)
            .sum()
    };
    let ended = of(InstanceStatus::is_final);
    (ended > 0).then(|| of(|status| status == InstanceStatus::Completed) as f64 / ended as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(definition: &str, status: &str, count: u64) -> StatusCount {
        StatusCount {
            definition: definition.into(),
            status: status.into(),
            count,
        }
    }

    fn durations(count: u64) -> DurationStats {
        DurationStats {
            count,
            mean_ms: Some(10.0),
            p95_ms: Some(20.0),
        }
    }

    #[test]
    fn counts_rates_and_durations_add_up_overall_and_per_definition() {
        let counts = [
            count("order", "completed", 3),
            count("order", "compensated", 1),
            count("order", "running", 6),
            count("refund", "running", 2),
        ];
        let definition_durations = [
            DefinitionDurations {
                definition: "order".into(),
                durations: durations(4),
            },
            DefinitionDurations {
                definition: "deleted".into(),
                durations: durations(1),
            },
        ];
        let steps = [StepDurations {
            definition: "order".into(),
            step: "charge".into(),
            durations: durations(4),
        }];
        let statistics = Statistics::of(&counts, &definition_durations, &steps);
        assert_eq!(statistics.counts["running"], 8);
        assert_eq!(statistics.success_rate, Some(0.75));
        let order = &statistics.definitions["order"];
        assert_eq!(order.success_rate, Some(0.75));
        assert_eq!(order.durations, Some(durations(4)));
        assert_eq!(order.steps["charge"], durations(4));
        let refund = &statistics.definitions["refund"];
        assert_eq!(refund.success_rate, None, "none of it ended");
        assert_eq!(refund.durations, None);
        assert!(!statistics.definitions.contains_key("deleted"));
    }

    #[test]
    fn every_final_status_counts_as_ended_by_its_name() {
        let finals = [
            "completed",
            "failed",
            "compensated",
            "compensation_failed",
            "cancelled",
        ];
        for status in finals {
            let counts = BTreeMap::from([(status.to_owned(), 1)]);
            let expected = if status == "completed" { 1.0 } else { 0.0 };
            assert_eq!(success_rate(&counts), Some(expected), "{status}");
        }
        for status in ["running", "paused", "compensating", "not a status"] {
            let counts = BTreeMap::from([(status.to_owned(), 1)]);
            assert_eq!(success_rate(&counts), None, "{status}");
        }
    }
}
