//! Counting what a node appends. Each event is counted by the node that
//! appended it, so the counters of all nodes sum to the truth. Durations
//! need the time of an earlier event of the same instance: the node keeps
//! those times for the instances it touches, learnt from what it appends and
//! from what it loads (a node that takes over an instance loads its stream).
//! Those times live in a bounded cache that evicts the least recently used
//! instance, each behind a lock of its own: no lock shared by every append.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;

use super::Metrics;
use crate::ports::{NewEvent, RecordedEvent};

/// What the counters need of an appended event, taken before the append
/// consumes it (cheaper than keeping a copy of its data).
#[derive(Debug)]
pub struct Observed {
    event_type: String,
    /// The definition, on `WorkflowStarted`.
    definition: Option<String>,
    step: Option<String>,
    /// The kind of timeout, on `StepTimedOut`.
    timeout: Option<String>,
    at: DateTime<Utc>,
}

impl Observed {
    pub fn of(events: &[NewEvent]) -> Vec<Self> {
        events
            .iter()
            .map(|event| Self::new(&event.event_type, &event.data, event.metadata.occurred_at))
            .collect()
    }

    fn new(event_type: &str, data: &Value, at: DateTime<Utc>) -> Self {
        let text = |key: &str| data[key].as_str().map(str::to_owned);
        Self {
            event_type: event_type.to_owned(),
            definition: (event_type == "WorkflowStarted")
                .then(|| text("definition"))
                .flatten(),
            step: text("step"),
            timeout: (event_type == "StepTimedOut")
                .then(|| text("timeout"))
                .flatten(),
            at,
        }
    }
}

/// Instances whose times are kept; past it the least recently used go (the
/// durations of an evicted instance then go unmeasured, nothing else).
const CAPACITY: u64 = 100_000;
const UNKNOWN: &str = "unknown";

/// The times of the instances this node touched lately.
pub(super) struct Timings(moka::sync::Cache<InstanceId, Arc<Mutex<InstanceTimes>>>);

impl Default for Timings {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
        )
    }
}

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Timings({} instances)", self.0.entry_count())
    }
}

#[derive(Debug, Default)]
struct InstanceTimes {
    definition: Option<String>,
    started_at: Option<DateTime<Utc>>,
    steps: HashMap<String, StepTimes>,
}

#[derive(Clone, Copy, Debug, Default)]
struct StepTimes {
    scheduled_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    approval_requested_at: Option<DateTime<Utc>>,
}

impl Metrics {
    /// Counts the events this node appended to `stream`.
    pub fn appended(&self, stream: InstanceId, events: &[Observed]) {
        let entry = self.timings.of(stream);
        let mut times = lock(&entry);
        let mut finished = false;
        for event in events {
            self.events_appended
                .with_label_values(&[event.event_type.as_str()])
                .inc();
            finished = self.observe(&mut times, event);
            if finished {
                *times = InstanceTimes::default();
            }
        }
        drop(times);
        if finished {
            self.timings.0.invalidate(&stream);
        }
    }

    /// Learns the times of events loaded from a stream, counting nothing.
    pub fn loaded(&self, stream: InstanceId, after_version: u64, records: &[RecordedEvent]) {
        let entry = if after_version == 0 {
            let fresh = Arc::default();
            self.timings.0.insert(stream, Arc::clone(&fresh));
            fresh
        } else {
            self.timings.of(stream)
        };
        let mut times = lock(&entry);
        for record in records {
            let event = Observed::new(
                &record.event_type,
                &record.data,
                record.metadata.occurred_at,
            );
            learn(&mut times, &event);
        }
    }

    /// Counts one appended event; true when the instance is done with.
    fn observe(&self, times: &mut InstanceTimes, event: &Observed) -> bool {
        let event_type = event.event_type.as_str();
        let at = event.at;
        let definition = event
            .definition
            .clone()
            .or_else(|| times.definition.clone())
            .unwrap_or_else(|| UNKNOWN.to_owned());
        let definition = definition.as_str();
        let step = event.step.as_deref().unwrap_or_default();
        let before = times.steps.get(step).copied().unwrap_or_default();
        let since = |from: Option<DateTime<Utc>>| {
            from.map(|from| (at - from).to_std().unwrap_or_default().as_secs_f64())
        };
        match event_type {
            "WorkflowStarted" => {
                self.workflows_started
                    .with_label_values(&[definition])
                    .inc();
            }
            "StepStarted" => {
                if let Some(wait) = since(before.scheduled_at) {
                    self.step_queue_wait
                        .with_label_values(&[definition, step])
                        .observe(wait);
                }
            }
            "StepCompleted" | "StepFailed" | "StepTimedOut" => {
                self.step_outcomes
                    .with_label_values(&[definition, step, outcome(event_type)])
                    .inc();
                if let Some(took) = since(before.started_at.or(before.scheduled_at)) {
                    self.step_duration
                        .with_label_values(&[definition, step])
                        .observe(took);
                }
                if event_type == "StepTimedOut" {
                    let kind = event.timeout.as_deref().unwrap_or(UNKNOWN);
                    self.step_timeouts
                        .with_label_values(&[definition, step, kind])
                        .inc();
                }
            }
            "StepSkipped" => {
                self.step_outcomes
                    .with_label_values(&[definition, step, "skipped"])
                    .inc();
            }
            "StepRetryScheduled" => {
                self.step_retries
                    .with_label_values(&[definition, step])
                    .inc();
            }
            "ApprovalRequested" => {
                self.approvals_requested
                    .with_label_values(&[definition, step])
                    .inc();
            }
            "ApprovalGranted" | "ApprovalRejected" => {
                let decision = if event_type == "ApprovalGranted" {
                    "granted"
                } else {
                    "rejected"
                };
                self.approvals_decided
                    .with_label_values(&[definition, step, decision])
                    .inc();
                if let Some(waited) = since(before.approval_requested_at) {
                    self.approval_wait
                        .with_label_values(&[definition, step])
                        .observe(waited);
                }
            }
            "CompensationStarted" => {
                self.compensations_started
                    .with_label_values(&[definition])
                    .inc();
            }
            "CompensationScheduled" | "CompensationCompleted" | "CompensationFailed" => {
                self.compensation_steps
                    .with_label_values(&[definition, step, outcome(event_type)])
                    .inc();
            }
            "WorkflowSlaBreached" => {
                self.workflow_sla_breaches
                    .with_label_values(&[definition])
                    .inc();
            }
            _ => {}
        }
        let finished = final_status(event_type);
        if let Some(status) = finished {
            self.workflows_finished
                .with_label_values(&[definition, status])
                .inc();
            if let Some(took) = since(times.started_at) {
                self.workflow_duration
                    .with_label_values(&[definition, status])
                    .observe(took);
            }
        }
        learn(times, event);
        // An instance in compensation_failed may be taken up again by an operator.
        finished.is_some_and(|status| status != "compensation_failed")
    }
}

impl Timings {
    /// The times of an instance, kept from now on if they were not.
    fn of(&self, stream: InstanceId) -> Arc<Mutex<InstanceTimes>> {
        self.0.get_with(stream, Arc::default)
    }
}

fn lock(times: &Mutex<InstanceTimes>) -> MutexGuard<'_, InstanceTimes> {
    times
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Remembers the times later events of the instance are measured from.
fn learn(times: &mut InstanceTimes, event: &Observed) {
    let at = event.at;
    if event.event_type == "WorkflowStarted" {
        times.definition = event.definition.clone();
        times.started_at = Some(at);
        return;
    }
    let Some(step) = &event.step else {
        return;
    };
    let entry = times.steps.entry(step.clone()).or_default();
    match event.event_type.as_str() {
        "StepScheduled" => {
            entry.scheduled_at = Some(at);
            entry.started_at = None;
        }
        "StepStarted" => entry.started_at = Some(at),
        "ApprovalRequested" => entry.approval_requested_at = Some(at),
        _ => {}
    }
}

/// The outcome label a step or compensation event counts under.
fn outcome(event_type: &str) -> &'static str {
    match event_type {
        "StepCompleted" | "CompensationCompleted" => "completed",
        "StepFailed" | "CompensationFailed" => "failed",
        "StepTimedOut" => "timed_out",
        "CompensationScheduled" => "scheduled",
        _ => UNKNOWN,
    }
}

fn final_status(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "WorkflowCompleted" => "completed",
        "WorkflowFailed" => "failed",
        "WorkflowCompensated" => "compensated",
        "WorkflowCompensationFailed" => "compensation_failed",
        "WorkflowCancelled" => "cancelled",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::ports::Metadata;

    fn event(event_type: &str, data: Value, second: u32) -> NewEvent {
        NewEvent {
            event_type: event_type.to_owned(),
            schema_version: 1,
            data,
            metadata: Metadata {
                event_id: Uuid::nil(),
                occurred_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second).unwrap(),
                correlation_id: Uuid::nil(),
                causation_id: None,
                actor: "test".to_owned(),
                traceparent: None,
            },
        }
    }

    #[test]
    fn counts_appended_events_and_measures_from_earlier_ones() {
        let metrics = Metrics::new();
        let id = InstanceId(Uuid::nil());
        let append = |events: Vec<NewEvent>| metrics.appended(id, &Observed::of(&events));
        append(vec![
            event("WorkflowStarted", json!({"definition": "order"}), 0),
            event("StepScheduled", json!({"step": "charge"}), 0),
        ]);
        append(vec![event("StepStarted", json!({"step": "charge"}), 2)]);
        append(vec![
            event("StepFailed", json!({"step": "charge"}), 5),
            event("StepRetryScheduled", json!({"step": "charge"}), 5),
        ]);
        append(vec![
            event("StepCompleted", json!({"step": "charge"}), 9),
            event("WorkflowCompleted", json!({}), 9),
        ]);
        let text = metrics.render();
        for line in [
            r#"distorch_workflows_started_total{definition="order"} 1"#,
            r#"distorch_workflows_finished_total{definition="order",status="completed"} 1"#,
            r#"distorch_workflow_duration_seconds_sum{definition="order",status="completed"} 9.0"#,
            r#"distorch_step_queue_wait_seconds_sum{definition="order",step="charge"} 2.0"#,
            r#"distorch_step_duration_seconds_sum{definition="order",step="charge"} 10.0"#,
            r#"distorch_step_duration_seconds_count{definition="order",step="charge"} 2"#,
            r#"distorch_step_retries_total{definition="order",step="charge"} 1"#,
            r#"distorch_events_appended_total{type="StepScheduled"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn learns_times_from_a_loaded_stream_without_counting_it() {
        let metrics = Metrics::new();
        let id = InstanceId(Uuid::nil());
        let records: Vec<RecordedEvent> = [
            event("WorkflowStarted", json!({"definition": "order"}), 0),
            event("ApprovalRequested", json!({"step": "boss"}), 1),
        ]
        .into_iter()
        .enumerate()
        .map(|(index, new)| RecordedEvent {
            position: index as i64 + 1,
            transaction: 0,
            stream_id: id,
            version: index as u64 + 1,
            event_type: new.event_type,
            schema_version: 1,
            data: new.data,
            metadata: new.metadata,
            recorded_at: Utc::now(),
        })
        .collect();
        metrics.loaded(id, 0, &records);
        metrics.appended(
            id,
            &Observed::of(&[event("ApprovalGranted", json!({"step": "boss"}), 31)]),
        );
        let text = metrics.render();
        assert!(
            !text.contains("distorch_workflows_started_total{"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"distorch_approval_wait_seconds_sum{definition="order",step="boss"} 30.0"#
            ),
            "{text}"
        );
    }
}
