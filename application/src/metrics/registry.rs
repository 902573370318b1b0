//! Every metric a node or worker exports, by name, in one place. Labels come
//! only from bounded sets: definition, step, outcome, status, queue, event
//! type, route template; never an instance id. A scrape encodes straight
//! from the families (prometheus-client): no copy of the series is made.

use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};

use super::families::{Counter, FloatGauge, IntGauge, Labelled, Reported};
use super::observe::Timings;

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

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS.iter().copied())
}

fn step_histogram() -> Histogram {
    Histogram::new(STEP_BUCKETS.iter().copied())
}

fn fast_histogram() -> Histogram {
    Histogram::new(FAST_BUCKETS.iter().copied())
}

type Histograms<const N: usize> = Labelled<N, Histogram>;

/// The families, registered in their own registry (not a global one).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// The length of the last rendering: the next one starts that large.
    rendered_bytes: AtomicUsize,
    pub(super) timings: Timings,
    pub workflows_started: Labelled<1, Counter>,
    pub workflows_finished: Labelled<2, Counter>,
    pub workflow_duration: Histograms<2>,
    pub workflow_sla_breaches: Labelled<1, Counter>,
    pub step_outcomes: Labelled<3, Counter>,
    pub step_duration: Histograms<2>,
    pub step_queue_wait: Histograms<2>,
    pub step_retries: Labelled<2, Counter>,
    pub step_timeouts: Labelled<3, Counter>,
    pub compensations_started: Labelled<1, Counter>,
    pub compensation_steps: Labelled<3, Counter>,
    pub approvals_requested: Labelled<2, Counter>,
    pub approvals_decided: Labelled<3, Counter>,
    pub approval_wait: Histograms<2>,
    pub events_appended: Labelled<1, Counter>,
    pub append_duration: Histogram,
    pub append_conflicts: Counter,
    pub workflows_running: Labelled<1, IntGauge>,
    pub workflows_compensation_failed: Labelled<1, IntGauge>,
    pub approvals_waiting: Labelled<1, IntGauge>,
    pub tasks_waiting: Labelled<1, IntGauge>,
    pub task_oldest_wait: Labelled<1, FloatGauge>,
    pub dead_letter_tasks: Labelled<1, IntGauge>,
    pub outbox_pending: Reported<IntGauge>,
    pub outbox_oldest_age: Reported<FloatGauge>,
    pub timers_due: Reported<IntGauge>,
    pub timers_late: Reported<FloatGauge>,
    pub projection_lag_events: Labelled<1, IntGauge>,
    pub projection_lag_seconds: Labelled<1, FloatGauge>,
    pub db_connections: Labelled<1, IntGauge>,
    /// Exported only by a process that has a broker (a node on RabbitMQ).
    pub broker_up: Reported<IntGauge>,
    /// Exported only by a process that samples its database.
    pub database_up: Reported<IntGauge>,
    pub scrape_errors: Labelled<1, Counter>,
    pub http_requests: Labelled<3, Counter>,
    pub http_duration: Histograms<2>,
    pub worker_tasks: Labelled<2, Counter>,
    pub worker_task_duration: Histograms<2>,
    pub build_info: Labelled<1, IntGauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let metrics = Self {
            timings: Timings::default(),
            workflows_started: register(
                r,
                "distorch_workflows_started_total",
                "Workflow instances started.",
                Labelled::new(["definition"]),
            ),
            workflows_finished: register(
                r,
                "distorch_workflows_finished_total",
                "Workflow instances that reached a final status.",
                Labelled::new(["definition", "status"]),
            ),
            workflow_duration: register(
                r,
                "distorch_workflow_duration_seconds",
                "From start to final status.",
                Labelled::with(
                    ["definition", "status"],
                    duration_histogram as fn() -> Histogram,
                ),
            ),
            workflow_sla_breaches: register(
                r,
                "distorch_workflow_sla_breaches_total",
                "Instances still running when their `sla:` ran out.",
                Labelled::new(["definition"]),
            ),
            step_outcomes: register(
                r,
                "distorch_step_outcomes_total",
                "Step attempts by outcome: completed, failed, timed_out, skipped.",
                Labelled::new(["definition", "step", "outcome"]),
            ),
            step_duration: register(
                r,
                "distorch_step_duration_seconds",
                "A step attempt from start (or schedule, for engine-run steps) to its outcome, \
                 whichever it was (distorch_step_outcomes_total counts them by outcome).",
                Labelled::with(["definition", "step"], step_histogram as fn() -> Histogram),
            ),
            step_queue_wait: register(
                r,
                "distorch_step_queue_wait_seconds",
                "A dispatched attempt from schedule until a worker started it.",
                Labelled::with(["definition", "step"], step_histogram as fn() -> Histogram),
            ),
            step_retries: register(
                r,
                "distorch_step_retries_total",
                "Retries scheduled after a failed attempt.",
                Labelled::new(["definition", "step"]),
            ),
            step_timeouts: register(
                r,
                "distorch_step_timeouts_total",
                "Attempts that timed out: attempt, heartbeat or approval deadline.",
                Labelled::new(["definition", "step", "kind"]),
            ),
            compensations_started: register(
                r,
                "distorch_compensations_started_total",
                "Instances that began compensating.",
                Labelled::new(["definition"]),
            ),
            compensation_steps: register(
                r,
                "distorch_compensation_steps_total",
                "Compensation attempts: scheduled, completed, failed.",
                Labelled::new(["definition", "step", "outcome"]),
            ),
            approvals_requested: register(
                r,
                "distorch_approvals_requested_total",
                "Approvals asked for.",
                Labelled::new(["definition", "step"]),
            ),
            approvals_decided: register(
                r,
                "distorch_approvals_decided_total",
                "Approvals granted or rejected.",
                Labelled::new(["definition", "step", "decision"]),
            ),
            approval_wait: register(
                r,
                "distorch_approval_wait_seconds",
                "From the request of an approval to its decision.",
                Labelled::with(
                    ["definition", "step"],
                    duration_histogram as fn() -> Histogram,
                ),
            ),
            events_appended: register(
                r,
                "distorch_events_appended_total",
                "Events appended by this node.",
                Labelled::new(["type"]),
            ),
            append_duration: register(
                r,
                "distorch_event_append_duration_seconds",
                "One append: events, outbox rows and timers in one transaction.",
                fast_histogram(),
            ),
            append_conflicts: register(
                r,
                "distorch_event_append_conflicts_total",
                "Appends refused because another writer moved the stream on.",
                Counter::default(),
            ),
            workflows_running: register(
                r,
                "distorch_workflows_running",
                "Instances not in a final status (running, paused or compensating).",
                Labelled::new(["definition"]),
            ),
            workflows_compensation_failed: register(
                r,
                "distorch_workflows_compensation_failed",
                "Instances stopped in compensation_failed, waiting for an operator.",
                Labelled::new(["definition"]),
            ),
            approvals_waiting: register(
                r,
                "distorch_approvals_waiting",
                "Approvals requested and not decided yet.",
                Labelled::new(["definition"]),
            ),
            tasks_waiting: register(
                r,
                "distorch_tasks_waiting",
                "Dispatched attempts no worker has started yet (outbox and broker).",
                Labelled::new(["queue"]),
            ),
            task_oldest_wait: register(
                r,
                "distorch_task_oldest_wait_seconds",
                "Age of the oldest dispatched attempt no worker has started.",
                Labelled::new(["queue"]),
            ),
            dead_letter_tasks: register(
                r,
                "distorch_dead_letter_tasks",
                "Tasks in the dead-letter queue of each task queue.",
                Labelled::new(["queue"]),
            ),
            outbox_pending: register(
                r,
                "distorch_outbox_pending",
                "Outbox rows not yet published.",
                Reported::default(),
            ),
            outbox_oldest_age: register(
                r,
                "distorch_outbox_oldest_age_seconds",
                "Age of the oldest unpublished outbox row: the relay's lag.",
                Reported::default(),
            ),
            timers_due: register(
                r,
                "distorch_timers_due",
                "Timers whose due time has passed and that have not fired yet.",
                Reported::default(),
            ),
            timers_late: register(
                r,
                "distorch_timers_late_seconds",
                "How far past its due time the most overdue timer is.",
                Reported::default(),
            ),
            projection_lag_events: register(
                r,
                "distorch_projection_lag_events",
                "Log positions the projection has yet to apply (checkpoint to head).",
                Labelled::new(["projection"]),
            ),
            projection_lag_seconds: register(
                r,
                "distorch_projection_lag_seconds",
                "Age of the oldest event the projection has yet to apply.",
                Labelled::new(["projection"]),
            ),
            db_connections: register(
                r,
                "distorch_db_pool_connections",
                "Database pool connections of this node, in_use or idle.",
                Labelled::new(["state"]),
            ),
            broker_up: register(
                r,
                "distorch_broker_up",
                "1 when the broker answered at the last scrape.",
                Reported::default(),
            ),
            database_up: register(
                r,
                "distorch_database_up",
                "1 when the database answered at the last scrape.",
                Reported::default(),
            ),
            scrape_errors: register(
                r,
                "distorch_metrics_scrape_errors_total",
                "Scrape-time samples that could not be taken.",
                Labelled::new(["source"]),
            ),
            http_requests: register(
                r,
                "distorch_http_requests_total",
                "HTTP requests by method, route template and status.",
                Labelled::new(["method", "route", "status"]),
            ),
            http_duration: register(
                r,
                "distorch_http_request_duration_seconds",
                "HTTP request latency by method and route template.",
                Labelled::with(["method", "route"], fast_histogram as fn() -> Histogram),
            ),
            worker_tasks: register(
                r,
                "distorch_worker_tasks_total",
                "Tasks a worker executed, by queue and outcome.",
                Labelled::new(["queue", "outcome"]),
            ),
            worker_task_duration: register(
                r,
                "distorch_worker_task_duration_seconds",
                "A worker's execution of one task.",
                Labelled::with(
                    ["queue", "outcome"],
                    duration_histogram as fn() -> Histogram,
                ),
            ),
            build_info: register(
                r,
                "distorch_build_info",
                "Always 1; the labels say which build runs.",
                Labelled::new(["version"]),
            ),
            registry,
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
        prometheus_text::encode(&mut text, &self.registry)
            .expect("writing into a String cannot fail");
        self.rendered_bytes.store(text.len(), Ordering::Relaxed);
        text
    }
}

/// Registers a family under its full name. prometheus-client adds `_total`
/// to counters and a full stop to the help text itself.
fn register<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    let name = name.strip_suffix("_total").unwrap_or(name);
    let help = help.strip_suffix('.').unwrap_or(help);
    registry.register(name, help, metric.clone());
    metric
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
        assert!(
            text.contains("# TYPE distorch_workflows_started_total counter\n"),
            "{text}"
        );
    }

    #[test]
    fn a_process_without_a_database_or_broker_exports_neither_gauge() {
        let metrics = Metrics::new();
        let text = metrics.render();
        assert!(!text.contains("distorch_database_up"), "{text}");
        assert!(!text.contains("distorch_broker_up"), "{text}");
        metrics.database_up.set(1);
        let text = metrics.render();
        assert!(text.contains("distorch_database_up 1\n"), "{text}");
        assert!(!text.contains("distorch_broker_up"), "{text}");
    }
}
