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

    /// Asks for no more deliveries: `next` then gives what had already
    /// arrived, then `None`.
    fn cancel(&mut self) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
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
/// A task is acknowledged (gone from its queue) when it is handed out: the
/// poller may die before it reports, and then the step's own `timeout` or
/// `heartbeat_timeout` fails the attempt and schedules a new one. Holding
/// the message unacknowledged across HTTP requests is not possible (the
/// report may reach another node).
pub trait TaskHandout: Send + Sync {
    /// Takes one task off `queue`, waiting up to `wait` for one to arrive;
    /// `None` when none did.
    fn take<'a>(
        &'a self,
        queue: &'a str,
        wait: std::time::Duration,
    ) -> super::BoxFuture<'a, Result<Option<TaskMessage>, Error>>;
}
