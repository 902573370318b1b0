//! Series created at zero before their first event, wherever their labels
//! are known in advance: a dashboard panel then shows 0 rather than "No
//! data", and `increase()` in an alert sees the first event as a rise.

use domain::WorkflowDefinition;
use domain::definition::StepKind;

use super::Metrics;

/// Every final status a workflow can end in.
pub(super) const FINAL_STATUSES: [&str; 5] = [
    "completed",
    "failed",
    "compensated",
    "compensation_failed",
    "cancelled",
];

impl Metrics {
    /// The series of one deployed definition and its steps.
    pub fn prime_definition(&self, definition: &WorkflowDefinition) {
        let name = definition.name.as_str();
        self.workflows_started.with_label_values(&[name]);
        self.workflow_sla_breaches.with_label_values(&[name]);
        self.compensations_started.with_label_values(&[name]);
        for status in FINAL_STATUSES {
            self.workflows_finished.with_label_values(&[name, status]);
            self.workflow_duration.with_label_values(&[name, status]);
        }
        for step in &definition.steps {
            let id = step.id.as_str();
            let outcomes: &[&str] = match step.kind {
                StepKind::Task { .. } | StepKind::Http { .. } | StepKind::Approval { .. } => {
                    &["completed", "failed", "timed_out", "skipped"]
                }
                _ => &["completed", "failed", "skipped"],
            };
            for outcome in outcomes {
                self.step_outcomes.with_label_values(&[name, id, outcome]);
            }
            self.step_duration.with_label_values(&[name, id]);
            self.step_retries.with_label_values(&[name, id]);
            let timeouts: &[&str] = match step.kind {
                StepKind::Task { .. } | StepKind::Http { .. } => {
                    self.step_queue_wait.with_label_values(&[name, id]);
                    &["attempt", "heartbeat"]
                }
                StepKind::Approval { .. } => {
                    self.approvals_requested.with_label_values(&[name, id]);
                    self.approval_wait.with_label_values(&[name, id]);
                    for decision in ["granted", "rejected"] {
                        self.approvals_decided
                            .with_label_values(&[name, id, decision]);
                    }
                    &["approval"]
                }
                _ => &[],
            };
            for kind in timeouts {
                self.step_timeouts.with_label_values(&[name, id, kind]);
            }
            if step.compensate.is_some() {
                for outcome in ["scheduled", "completed", "failed"] {
                    self.compensation_steps
                        .with_label_values(&[name, id, outcome]);
                }
            }
        }
    }

    /// The series of a worker consuming `queue`.
    pub fn prime_worker(&self, queue: &str) {
        for outcome in ["completed", "failed", "failed_retryable"] {
            self.worker_tasks.with_label_values(&[queue, outcome]);
            self.worker_task_duration
                .with_label_values(&[queue, outcome]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = r#"
name: order
version: 1
steps:
  charge:
    type: task
    queue: payments
    input: {}
    compensate:
      type: task
      queue: payments
      input: {}
  boss:
    type: approval
    needs: [charge]
    approvers: [role:manager]
"#;

    #[test]
    fn a_deployed_definition_has_its_series_at_zero_before_any_event() {
        let definition = domain::parse_workflow(ORDER).expect("a valid definition");
        let metrics = Metrics::new();
        metrics.prime_definition(&definition);
        let text = metrics.render();
        for line in [
            r#"distorch_workflows_started_total{definition="order"} 0"#,
            r#"distorch_workflow_sla_breaches_total{definition="order"} 0"#,
            r#"distorch_workflows_finished_total{definition="order",status="compensation_failed"} 0"#,
            r#"distorch_step_retries_total{definition="order",step="charge"} 0"#,
            r#"distorch_step_queue_wait_seconds_count{definition="order",step="charge"} 0"#,
            r#"distorch_compensation_steps_total{definition="order",step="charge",outcome="failed"} 0"#,
            r#"distorch_approvals_decided_total{definition="order",step="boss",decision="granted"} 0"#,
            r#"distorch_step_timeouts_total{definition="order",step="boss",kind="approval"} 0"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(
            !text.contains(
                r#"distorch_step_queue_wait_seconds_count{definition="order",step="boss"}"#
            ),
            "an approval is not dispatched to a queue"
        );
    }
}
