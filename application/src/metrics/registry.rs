//! Every metric a node or worker exports, by name, in one place. Labels come
//! only from bounded sets: definition, step, outcome, status, queue, event
//! type, route template; never an instance id.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::exposition::write_families;
use super::observe::Timings;
use prometheus::core::Collector;
use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

/// Seconds, from a fast step to a day-long approval: for the series kept
/// per definition (workflows, approvals).
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0, 3600.0, 86_400.0,
];
/// Seconds, coarser, for the series kept per step (definitions × steps of
/// them): each bucket is a line per step at every scrape.
const STEP_BUCKETS: &[f64] = &[0.01, 0.1, 0.5, 2.5, 10.0, 60.0, 600.0, 3600.0];
/// Seconds for an append or an HTTP request.
const FAST_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The collectors, registered in their own registry (not the global one).
#[derive(Debug)]
pub struct Metrics {
    collectors: Collectors,
    /// The length of the last rendering: the next one starts that large.
    rendered_bytes: AtomicUsize,
    pub(super) timings: Timings,
    pub workflows_started: IntCounterVec,
    pub workflows_finished: IntCounterVec,
    pub workflow_duration: HistogramVec,
    pub workflow_sla_breaches: IntCounterVec,
    pub step_outcomes: IntCounterVec,
    pub step_duration: HistogramVec,
    pub step_queue_wait: HistogramVec,
    pub step_retries: IntCounterVec,
    pub step_timeouts: IntCounterVec,
    pub compensations_started: IntCounterVec,
    pub compensation_steps: IntCounterVec,
    pub approvals_requested: IntCounterVec,
    pub approvals_decided: IntCounterVec,
    pub approval_wait: HistogramVec,
    pub events_appended: IntCounterVec,
    pub append_duration: Histogram,
    pub append_conflicts: IntCounter,
    pub workflows_running: IntGaugeVec,
    pub workflows_compensation_failed: IntGaugeVec,
    pub approvals_waiting: IntGaugeVec,
    pub tasks_waiting: IntGaugeVec,
    pub workers: IntGaugeVec,
    pub worker_tasks_in_flight: IntGauge,
    pub task_oldest_wait: GaugeVec,
    pub dead_letter_tasks: IntGaugeVec,
    pub outbox_pending: IntGauge,
    pub outbox_oldest_age: Gauge,
    pub timers_due: IntGauge,
    pub timers_late: Gauge,
    pub projection_lag_events: IntGaugeVec,
    pub projection_lag_seconds: GaugeVec,
    pub db_connections: IntGaugeVec,
    pub broker_up: IntGauge,
    pub database_up: IntGauge,
    pub scrape_errors: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub worker_tasks: IntCounterVec,
    pub worker_task_duration: HistogramVec,
    pub build_info: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registration::default();
        let metrics = Self {
            timings: Timings::default(),
            workflows_started: counter(
                &registry,
                "distorch_workflows_started_total",
                "Workflow instances started.",
                &["definition"],
            ),
            workflows_finished: counter(
                &registry,
                "distorch_workflows_finished_total",
                "Workflow instances that reached a final status.",
                &["definition", "status"],
            ),
            workflow_duration: histogram(
                &registry,
                "distorch_workflow_duration_seconds",
                "From start to final status.",
                &["definition", "status"],
                DURATION_BUCKETS,
            ),
            workflow_sla_breaches: counter(
                &registry,
                "distorch_workflow_sla_breaches_total",
                "Instances still running when their `sla:` ran out.",
                &["definition"],
            ),
            step_outcomes: counter(
                &registry,
                "distorch_step_outcomes_total",
                "Step attempts by outcome: completed, failed, timed_out, skipped.",
                &["definition", "step", "outcome"],
            ),
            step_duration: histogram(
                &registry,
                "distorch_step_duration_seconds",
                "A step attempt from start (or schedule, for engine-run steps) to its outcome, \
                 whichever it was (distorch_step_outcomes_total counts them by outcome).",
                &["definition", "step"],
                STEP_BUCKETS,
            ),
            step_queue_wait: histogram(
                &registry,
                "distorch_step_queue_wait_seconds",
                "A dispatched attempt from schedule until a worker started it.",
                &["definition", "step"],
                STEP_BUCKETS,
            ),
            step_retries: counter(
                &registry,
                "distorch_step_retries_total",
                "Retries scheduled after a failed attempt.",
                &["definition", "step"],
            ),
            step_timeouts: counter(
                &registry,
                "distorch_step_timeouts_total",
                "Attempts that timed out: attempt, heartbeat or approval deadline.",
                &["definition", "step", "kind"],
            ),
            compensations_started: counter(
                &registry,
                "distorch_compensations_started_total",
                "Instances that began compensating.",
                &["definition"],
            ),
            compensation_steps: counter(
                &registry,
                "distorch_compensation_steps_total",
                "Compensation attempts: scheduled, completed, failed.",
                &["definition", "step", "outcome"],
            ),
            approvals_requested: counter(
                &registry,
                "distorch_approvals_requested_total",
                "Approvals asked for.",
                &["definition", "step"],
            ),
            approvals_decided: counter(
                &registry,
                "distorch_approvals_decided_total",
                "Approvals granted or rejected.",
                &["definition", "step", "decision"],
            ),
            approval_wait: histogram(
                &registry,
                "distorch_approval_wait_seconds",
                "From the request of an approval to its decision.",
                &["definition", "step"],
                DURATION_BUCKETS,
            ),
            events_appended: counter(
                &registry,
                "distorch_events_appended_total",
                "Events appended by this node.",
                &["type"],
            ),
            append_duration: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "distorch_event_append_duration_seconds",
                        "One append: events, outbox rows and timers in one transaction.",
                    )
                    .buckets(FAST_BUCKETS.to_vec()),
                ),
            ),
            append_conflicts: register(
                &registry,
                IntCounter::new(
                    "distorch_event_append_conflicts_total",
                    "Appends refused because another writer moved the stream on.",
                ),
            ),
            workflows_running: gauge(
                &registry,
                "distorch_workflows_running",
                "Instances not in a final status (running, paused or compensating).",
                &["definition"],
            ),
            workflows_compensation_failed: gauge(
                &registry,
                "distorch_workflows_compensation_failed",
                "Instances stopped in compensation_failed, waiting for an operator.",
                &["definition"],
            ),
            approvals_waiting: gauge(
                &registry,
                "distorch_approvals_waiting",
                "Approvals requested and not decided yet.",
                &["definition"],
            ),
            tasks_waiting: gauge(
                &registry,
                "distorch_tasks_waiting",
                "Dispatched attempts no worker has started yet (outbox and broker).",
                &["queue"],
            ),
            workers: gauge(
                &registry,
                "distorch_workers",
                "Workers in the registry, by status (idle, busy, draining, offline).",
                &["status"],
            ),
            worker_tasks_in_flight: register(
                &registry,
                IntGauge::new(
                    "distorch_worker_tasks_in_flight",
                    "Tasks the workers that are not offline say they are running.",
                ),
            ),
            task_oldest_wait: register(
                &registry,
                GaugeVec::new(
                    Opts::new(
                        "distorch_task_oldest_wait_seconds",
                        "Age of the oldest dispatched attempt no worker has started.",
                    ),
                    &["queue"],
                ),
            ),
            dead_letter_tasks: gauge(
                &registry,
                "distorch_dead_letter_tasks",
                "Tasks in the dead-letter queue of each task queue.",
                &["queue"],
            ),
            outbox_pending: register(
                &registry,
                IntGauge::new("distorch_outbox_pending", "Outbox rows not yet published."),
            ),
            outbox_oldest_age: register(
                &registry,
                Gauge::new(
                    "distorch_outbox_oldest_age_seconds",
                    "Age of the oldest unpublished outbox row: the relay's lag.",
                ),
            ),
            timers_due: register(
                &registry,
                IntGauge::new(
                    "distorch_timers_due",
                    "Timers whose due time has passed and that have not fired yet.",
                ),
            ),
            timers_late: register(
                &registry,
                Gauge::new(
                    "distorch_timers_late_seconds",
                    "How far past its due time the most overdue timer is.",
                ),
            ),
            projection_lag_events: gauge(
                &registry,
                "distorch_projection_lag_events",
                "Log positions the projection has yet to apply (checkpoint to head).",
                &["projection"],
            ),
            projection_lag_seconds: register(
                &registry,
                GaugeVec::new(
                    Opts::new(
                        "distorch_projection_lag_seconds",
                        "Age of the oldest event the projection has yet to apply.",
                    ),
                    &["projection"],
                ),
            ),
            db_connections: gauge(
                &registry,
                "distorch_db_pool_connections",
                "Database pool connections of this node, in_use or idle.",
                &["state"],
            ),
            broker_up: register(
                &registry,
                IntGauge::new(
                    "distorch_broker_up",
                    "1 when the broker answered at the last scrape.",
                ),
            ),
            database_up: register(
                &registry,
                IntGauge::new(
                    "distorch_database_up",
                    "1 when the database answered at the last scrape.",
                ),
            ),
            scrape_errors: counter(
                &registry,
                "distorch_metrics_scrape_errors_total",
                "Scrape-time samples that could not be taken.",
                &["source"],
            ),
            http_requests: counter(
                &registry,
                "distorch_http_requests_total",
                "HTTP requests by method, route template and status.",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                &registry,
                "distorch_http_request_duration_seconds",
                "HTTP request latency by method and route template.",
                &["method", "route"],
                FAST_BUCKETS,
            ),
            worker_tasks: counter(
                &registry,
                "distorch_worker_tasks_total",
                "Tasks a worker executed, by queue and outcome.",
                &["queue", "outcome"],
            ),
            worker_task_duration: histogram(
                &registry,
                "distorch_worker_task_duration_seconds",
                "A worker's execution of one task.",
                &["queue", "outcome"],
                DURATION_BUCKETS,
            ),
            build_info: gauge(
                &registry,
                "distorch_build_info",
                "Always 1; the labels say which build runs.",
                &["version"],
            ),
            collectors: registry.finish(),
            rendered_bytes: AtomicUsize::new(0),
        };
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        metrics
    }

    /// The text exposition format (version 0.0.4), into a buffer as large
    /// as the last rendering.
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(self.rendered_bytes.load(Ordering::Relaxed) + 4096);
        let collectors: Vec<&dyn Collector> = self
            .collectors
            .0
            .iter()
            .map(|collector| &**collector)
            .collect();
        write_families(&collectors, &mut text);
        self.rendered_bytes.store(text.len(), Ordering::Relaxed);
        text
    }
}

/// Every collector, ordered by metric name.
struct Collectors(Vec<Box<dyn Collector>>);

impl std::fmt::Debug for Collectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Collectors({})", self.0.len())
    }
}

/// Collectors as they are registered: the registry refuses a name twice,
/// the list keeps them for rendering.
#[derive(Default)]
struct Registration {
    registry: Registry,
    collectors: RefCell<Vec<Box<dyn Collector>>>,
}

impl Registration {
    fn finish(self) -> Collectors {
        let mut collectors = self.collectors.into_inner();
        collectors.sort_by_cached_key(|collector| {
            collector
                .desc()
                .first()
                .map(|desc| desc.fq_name.clone())
                .unwrap_or_default()
        });
        Collectors(collectors)
    }
}

/// Registers a collector built from constant, valid options.
fn register<C: Collector + Clone + 'static>(
    registry: &Registration,
    collector: prometheus::Result<C>,
) -> C {
    let collector = collector.expect("metric options are constants and valid");
    registry
        .registry
        .register(Box::new(collector.clone()))
        .expect("metric names are unique");
    registry
        .collectors
        .borrow_mut()
        .push(Box::new(collector.clone()));
    collector
}

fn counter(registry: &Registration, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn gauge(registry: &Registration, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(registry, IntGaugeVec::new(Opts::new(name, help), labels))
}

fn histogram(
    registry: &Registration,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    register(
        registry,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_build_info_and_counted_series() {
        let metrics = Metrics::new();
        metrics
            .workflows_started
            .with_label_values(&["order"])
            .inc();
        let text = metrics.render();
        assert!(text.contains("distorch_build_info{version=\""), "{text}");
        assert!(
            text.contains("distorch_workflows_started_total{definition=\"order\"} 1"),
            "{text}"
        );
    }
}
