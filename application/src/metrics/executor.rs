//! A worker's own metrics: every task it executes, by queue and outcome,
//! with how long the execution took.

use std::sync::Arc;
use std::time::Instant;

use super::Metrics;
use crate::loops::Executor;
use crate::messages::{TaskMessage, TaskOutcome};

#[derive(Debug)]
pub struct MeteredExecutor<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

impl<E> MeteredExecutor<E> {
    pub fn new(inner: E, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<E: Executor> Executor for MeteredExecutor<E> {
    async fn execute(&self, task: &TaskMessage) -> TaskOutcome {
        let began = Instant::now();
        let outcome = self.inner.execute(task).await;
        let label = match &outcome {
            TaskOutcome::Completed { .. } => "completed",
            TaskOutcome::Failed { error } if error.retryable => "failed_retryable",
            TaskOutcome::Failed { .. } => "failed",
            TaskOutcome::Started { .. } | TaskOutcome::Heartbeat { .. } => "other",
        };
        let labels = [task.queue.as_str(), label];
        self.metrics.worker_tasks.with_label_values(&labels).inc();
        self.metrics
            .worker_task_duration
            .with_label_values(&labels)
            .observe(began.elapsed().as_secs_f64());
        outcome
    }
}
