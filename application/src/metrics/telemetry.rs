//! A node's telemetry: the metrics it counts, refreshed at scrape time with
//! what its database and broker report, and its readiness checks.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Metrics;
use crate::clock::Clock;
use crate::definitions::DefinitionRegistry;
use crate::ports::{BrokerProbe, Check, StoreProbe, StoreSample};
use crate::projection::{ProjectionLag, ProjectionProbe};

/// A probe that takes longer than this counts as failed: a scrape or a
/// readiness check must answer even when the database hangs.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Telemetry {
    metrics: Arc<Metrics>,
    definitions: Arc<DefinitionRegistry>,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn StoreProbe>>,
    broker: Option<Arc<dyn BrokerProbe>>,
    projections: Option<(Arc<dyn ProjectionProbe>, Duration)>,
    /// The definitions (name, version) whose series exist already.
    primed: Mutex<HashSet<(String, u32)>>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("store", &self.store.is_some())
            .field("broker", &self.broker.is_some())
            .field("projections", &self.projections.is_some())
            .finish_non_exhaustive()
    }
}

/// The outcome of every readiness check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|check| check.problem.is_none())
    }
}

impl Telemetry {
    pub fn new(
        metrics: Arc<Metrics>,
        definitions: Arc<DefinitionRegistry>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            metrics,
            definitions,
            clock,
            store: None,
            broker: None,
            projections: None,
            primed: Mutex::default(),
        }
    }

    /// Reports the projections' lag, and fails readiness (check
    /// `projections`) while one trails the log by more than `max_lag`.
    pub fn with_projections(mut self, probe: Arc<dyn ProjectionProbe>, max_lag: Duration) -> Self {
        self.projections = Some((probe, max_lag));
        self
    }

    pub fn with_store(mut self, probe: Arc<dyn StoreProbe>) -> Self {
        self.store = Some(probe);
        self
    }

    pub fn with_broker(mut self, probe: Arc<dyn BrokerProbe>) -> Self {
        self.broker = Some(probe);
        self
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The metrics in the text format, with the scrape-time gauges fresh.
    pub async fn render(&self) -> String {
        self.prime();
        self.refresh().await;
        self.metrics.render()
    }

    pub async fn readiness(&self) -> Readiness {
        let mut checks = Vec::new();
        if let Some(store) = &self.store {
            checks.extend(within("database", store.checks()).await);
        }
        if let Some(broker) = &self.broker {
            checks.extend(within("broker", broker.checks()).await);
        }
        if let Some((probe, max_lag)) = &self.projections {
            checks.push(self.projections_check(probe.as_ref(), *max_lag).await);
        }
        Readiness { checks }
    }

    /// Creates the series of every definition deployed since the last
    /// scrape, at zero.
    fn prime(&self) {
        let mut primed = self
            .primed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for definition in self.definitions.all() {
            if primed.insert((definition.name.clone(), definition.version)) {
                self.metrics.prime_definition(&definition);
            }
        }
    }

    async fn refresh(&self) {
        if let Some(store) = &self.store {
            let now = self.clock.now();
            match tokio::time::timeout(PROBE_TIMEOUT, store.sample(now)).await {
                Ok(Ok(sample)) => {
                    self.metrics.database_up.set(1);
                    self.apply(&sample, now);
                }
                _ => {
                    self.metrics.database_up.set(0);
                    self.failed("database");
                }
            }
        }
        if let Some((probe, _)) = &self.projections {
            match tokio::time::timeout(PROBE_TIMEOUT, probe.lag(self.clock.now())).await {
                Ok(Ok(lags)) => self.apply_lags(&lags),
                _ => self.failed("projections"),
            }
        }
        if let Some(broker) = &self.broker {
            let up = within("broker", broker.checks())
                .await
                .iter()
                .all(|check| check.problem.is_none());
            self.metrics.broker_up.set(i64::from(up));
            let queues = self.queues();
            match tokio::time::timeout(PROBE_TIMEOUT, broker.dead_letters(&queues)).await {
                Ok(Ok(counts)) if up => {
                    self.metrics.dead_letter_tasks.reset();
                    for (queue, count) in counts {
                        self.metrics
                            .dead_letter_tasks
                            .with_label_values(&[queue.as_str()])
                            .set(i64::from(count));
                    }
                }
                _ => self.failed("broker"),
            }
        }
    }

    async fn projections_check(&self, probe: &dyn ProjectionProbe, max_lag: Duration) -> Check {
        const NAME: &str = "projections";
        let lags = match tokio::time::timeout(PROBE_TIMEOUT, probe.lag(self.clock.now())).await {
            Ok(Ok(lags)) => lags,
            Ok(Err(error)) => {
                return Check::failed(NAME, format!("cannot measure the lag: {error}"));
            }
            Err(_) => {
                return Check::failed(
                    NAME,
                    format!("no answer within {}s", PROBE_TIMEOUT.as_secs()),
                );
            }
        };
        match lags.iter().find(|lag| lag.seconds > max_lag.as_secs_f64()) {
            None => Check::passed(NAME),
            Some(lag) => Check::failed(
                NAME,
                format!(
                    "the {} projection trails the log by {:.1}s ({} positions), more than {}s",
                    lag.projection,
                    lag.seconds,
                    lag.events,
                    max_lag.as_secs_f64()
                ),
            ),
        }
    }

    fn apply_lags(&self, lags: &[ProjectionLag]) {
        for lag in lags {
            self.metrics
                .projection_lag_events
                .with_label_values(&[lag.projection])
                .set(lag.events);
            self.metrics
                .projection_lag_seconds
                .with_label_values(&[lag.projection])
                .set(lag.seconds);
        }
    }

    fn failed(&self, source: &str) {
        self.metrics
            .scrape_errors
            .with_label_values(&[source])
            .inc();
    }

    fn apply(&self, sample: &StoreSample, now: DateTime<Utc>) {
        let metrics = &self.metrics;
        for (gauge, counts) in [
            (&metrics.workflows_running, &sample.running),
            (
                &metrics.workflows_compensation_failed,
                &sample.compensation_failed,
            ),
            (&metrics.approvals_waiting, &sample.approvals_waiting),
        ] {
            gauge.reset();
            for definition in self.definitions.all() {
                gauge.with_label_values(&[definition.name.as_str()]).set(0);
            }
            for (definition, count) in counts {
                gauge.with_label_values(&[definition.as_str()]).set(*count);
            }
        }
        let mut by_queue: BTreeMap<String, (i64, DateTime<Utc>)> = self
            .queues()
            .into_iter()
            .map(|queue| (queue, (0, now)))
            .collect();
        for waiting in &sample.waiting_steps {
            let Some(queue) =
                self.queue_of(&waiting.definition, &waiting.step, waiting.compensation)
            else {
                continue;
            };
            let entry = by_queue.entry(queue).or_insert((0, now));
            entry.0 += waiting.count;
            entry.1 = entry.1.min(waiting.oldest);
        }
        metrics.tasks_waiting.reset();
        metrics.task_oldest_wait.reset();
        for (queue, (count, oldest)) in by_queue {
            metrics
                .tasks_waiting
                .with_label_values(&[queue.as_str()])
                .set(count);
            metrics
                .task_oldest_wait
                .with_label_values(&[queue.as_str()])
                .set(age(oldest, now));
        }
        metrics.outbox_pending.set(sample.outbox_pending);
        metrics
            .outbox_oldest_age
            .set(sample.outbox_oldest.map_or(0.0, |oldest| age(oldest, now)));
        metrics.timers_due.set(sample.timers_due);
        metrics
            .timers_late
            .set(sample.timers_oldest_due.map_or(0.0, |due| age(due, now)));
        metrics
            .db_connections
            .with_label_values(&["in_use"])
            .set(i64::from(sample.connections_in_use));
        metrics
            .db_connections
            .with_label_values(&["idle"])
            .set(i64::from(sample.connections_idle));
    }

    /// Every queue a deployed definition dispatches to.
    fn queues(&self) -> Vec<String> {
        let mut queues = BTreeSet::new();
        for definition in self.definitions.all() {
            for step in &definition.steps {
                queues.extend(step.queues().map(str::to_owned));
            }
        }
        queues.into_iter().collect()
    }

    fn queue_of(&self, definition: &str, step: &str, compensation: bool) -> Option<String> {
        let definition = self.definitions.get(definition, None).ok()?;
        let step = definition.step(step)?;
        if compensation {
            return Some(step.compensate.as_ref()?.action.queue().to_owned());
        }
        step.kind.queue().map(str::to_owned)
    }
}

/// Runs a probe's checks with a deadline; a probe that hangs fails as `name`.
async fn within(name: &'static str, checks: crate::ports::BoxFuture<'_, Vec<Check>>) -> Vec<Check> {
    tokio::time::timeout(PROBE_TIMEOUT, checks)
        .await
        .unwrap_or_else(|_| {
            vec![Check::failed(
                name,
                format!("no answer within {}s", PROBE_TIMEOUT.as_secs()),
            )]
        })
}

fn age(since: DateTime<Utc>, now: DateTime<Utc>) -> f64 {
    (now - since).to_std().unwrap_or_default().as_secs_f64()
}
