//! The message bus between engine nodes and workers: task queues (one per
//! queue name, with a dead-letter queue each) and one results queue.
//! Delivery is at least once: a message is redelivered until acknowledged.

use std::future::Future;

use crate::Error;
use crate::messages::{ResultBatch, TaskMessage, TaskResult};

/// One received message; it must be acknowledged, requeued or rejected.
pub trait Delivery<T>: Send {
    fn message(&self) -> &T;
    /// Whether the broker delivered this message before (to someone).
    fn redelivered(&self) -> bool;
    /// Done with it: remove it from the queue.
    fn ack(self) -> impl Future<Output = Result<(), Error>> + Send;
    /// Give it back for another try.
    fn requeue(self) -> impl Future<Output = Result<(), Error>> + Send;
    /// Give up on it: move it to the dead-letter queue.
    fn reject(self) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A source of deliveries; `None` when the subscription ended for good.
pub trait Subscription<T>: Send {
    type Delivery: Delivery<T>;
    fn next(&mut self) -> impl Future<Output = Option<Result<Self::Delivery, Error>>> + Send;
}

pub trait Bus: Send + Sync + Clone + 'static {
    type Tasks: Subscription<TaskMessage>;
    type Results: Subscription<ResultBatch>;

    /// Publishes tasks to their queues; returns once the broker has confirmed
    /// every one of them (an error means some may not have been published).
    fn publish_tasks(
        &self,
        tasks: &[TaskMessage],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Publishes a worker's results, in one message; returns once
    /// confirmed. Not empty.
    fn publish_results(
        &self,
        results: &[TaskResult],
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Publishes one result; returns once confirmed.
    fn publish_result(
        &self,
        result: &TaskResult,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        self.publish_results(std::slice::from_ref(result))
    }

    /// Consumes one task queue, at most `prefetch` unacknowledged at a time.
    fn consume_tasks(
        &self,
        queue: &str,
        prefetch: u16,
    ) -> impl Future<Output = Result<Self::Tasks, Error>> + Send;

    /// Consumes the results queue, at most `prefetch` unacknowledged at a time.
    fn consume_results(
        &self,
        prefetch: u16,
    ) -> impl Future<Output = Result<Self::Results, Error>> + Send;
}

/// Hands tasks one at a time to workers that poll over HTTP instead of
/// consuming a queue. Object-safe: the API holds it behind `dyn`.
///
/// Over RabbitMQ a task is acknowledged (gone from its queue) when it is
/// handed out: holding the message unacknowledged across HTTP requests is
/// not possible (the report may reach another node), so a poller that dies
/// before it reports leaves the attempt to the step's own `timeout` or
/// `heartbeat_timeout`. The embedded mode's queue keeps a handed-out task
/// until its result is stored ([`TaskHandout::settled`]) and hands it out
/// again after a restart if none was.
pub trait TaskHandout: Send + Sync {
    /// Takes one task off `queue`, waiting up to `wait` for one to arrive;
    /// `None` when none did.
    fn take<'a>(
        &'a self,
        queue: &'a str,
        wait: std::time::Duration,
    ) -> super::BoxFuture<'a, Result<Option<TaskMessage>, Error>>;

    /// The result of task `task_id` was stored (or can never be): the task
    /// is done with. Nothing to do where handing out acknowledged it.
    fn settled<'a>(&'a self, task_id: &'a str) -> super::BoxFuture<'a, Result<(), Error>> {
        let _ = task_id;
        Box::pin(async { Ok(()) })
    }
}
