//! A worker: consumes a task queue, runs the task with an executor (reporting
//! the start if it takes a while), publishes the result, then acknowledges
//! the task. A worker that dies before the ack leaves the task to be
//! redelivered (at least once).

use std::future::Future;

use crate::Error;
use crate::messages::{TaskMessage, TaskOutcome, TaskResult};
use crate::ports::{Bus, Delivery, Subscription};

/// How long a task runs before its worker reports that it started.
pub const START_REPORT_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs one task: `Completed` or `Failed`.
pub trait Executor: Send + Sync {
    fn execute(&self, task: &TaskMessage) -> impl Future<Output = TaskOutcome> + Send;
}

#[derive(Debug)]
pub struct Worker<B, E> {
    bus: B,
    queue: String,
    name: String,
    executor: E,
    prefetch: u16,
}

impl<B: Bus, E: Executor> Worker<B, E> {
    pub fn new(bus: B, queue: impl Into<String>, name: impl Into<String>, executor: E) -> Self {
        Self {
            bus,
            queue: queue.into(),
            name: name.into(),
            executor,
            prefetch: 16,
        }
    }

    /// Runs one delivered task to its result. A task that finishes within
    /// `START_REPORT_AFTER` is reported once, its final result naming this
    /// worker (the engine records the start with it); a longer one reports
    /// `started` when that time is up, so it shows as running.
    pub async fn handle(
        &self,
        delivery: <B::Tasks as Subscription<TaskMessage>>::Delivery,
    ) -> Result<(), Error> {
        let task = delivery.message().clone();
        let execution = self.executor.execute(&task);
        tokio::pin!(execution);
        let quick = tokio::select! {
            outcome = &mut execution => Some(outcome),
            () = tokio::time::sleep(START_REPORT_AFTER) => None,
        };
        let result = match quick {
            Some(outcome) => TaskResult::for_task(&task, outcome).started_by(&self.name),
            None => {
                let started = TaskOutcome::Started {
                    worker: self.name.clone(),
                };
                self.bus
                    .publish_result(&TaskResult::for_task(&task, started))
                    .await?;
                TaskResult::for_task(&task, execution.await)
            }
        };
        self.bus.publish_result(&result).await?;
        delivery.ack().await
    }

    /// Works until the subscription ends, up to `prefetch` tasks at once.
    pub async fn run(self: std::sync::Arc<Self>) -> Result<(), Error>
    where
        B: 'static,
        E: 'static,
    {
        let mut tasks = self.bus.consume_tasks(&self.queue, self.prefetch).await?;
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(usize::from(self.prefetch)));
        while let Some(delivery) = tasks.next().await {
            let Ok(delivery) = delivery else {
                tokio::time::sleep(super::FALLBACK_WAKE).await;
                continue;
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let worker = self.clone();
            tokio::spawn(async move {
                // Not acknowledged on failure: the task is redelivered.
                if worker.handle(delivery).await.is_err() {
                    tokio::time::sleep(super::FALLBACK_WAKE).await;
                }
                drop(slot);
            });
        }
        Ok(())
    }
}
