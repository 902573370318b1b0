//! A worker: consumes a task queue, runs the task with an executor (reporting
//! the start if it takes a while), publishes the result (together with the
//! results of its other tasks ready at the same time), then acknowledges
//! the task. A worker that dies before the ack leaves the task to be
//! redelivered (at least once).

use std::future::Future;

use tracing::{Instrument, Span};

use crate::Error;
use crate::messages::{TaskMessage, TaskOutcome, TaskResult};
use crate::ports::{Bus, Delivery, Subscription};
use crate::trace::{self, TraceParent};

/// How long a task runs before its worker reports that it started.
pub const START_REPORT_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs one task: `Completed` or `Failed`. It runs inside the task's span
/// (see [`task_span`]): [`traceparent_for_call`] gives what to send on.
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
    /// Where tasks hand their results to be published together; started
    /// with the first.
    reporter: tokio::sync::OnceCell<Reporter>,
}

/// A result waiting to be published, and who waits for its confirm.
type Report = (TaskResult, tokio::sync::oneshot::Sender<Result<(), String>>);
type Reporter = tokio::sync::mpsc::Sender<Report>;

/// Results published in one message at most.
const REPORT_BATCH: usize = 64;

/// Publishes results as tasks hand them over: one message for all that
/// arrived while the previous publish waited for its confirm, so that
/// under load a message (one publish, confirm, delivery and ack at the
/// broker) carries many results, and alone a result goes at once. Ends
/// when the worker is dropped.
async fn report<B: Bus>(bus: B, mut reports: tokio::sync::mpsc::Receiver<Report>) {
    while let Some(first) = reports.recv().await {
        let mut batch = vec![first];
        while batch.len() < REPORT_BATCH {
            match reports.try_recv() {
                Ok(report) => batch.push(report),
                Err(_) => break,
            }
        }
        let results: Vec<TaskResult> = batch.iter().map(|(result, _)| result.clone()).collect();
        let published = bus
            .publish_results(&results)
            .await
            .map_err(|error| error.to_string());
        for (_, waiter) in batch {
            let _ = waiter.send(published.clone());
        }
    }
}

impl<B: Bus, E: Executor> Worker<B, E> {
    pub fn new(bus: B, queue: impl Into<String>, name: impl Into<String>, executor: E) -> Self {
        Self {
            bus,
            queue: queue.into(),
            name: name.into(),
            executor,
            prefetch: 16,
            reporter: tokio::sync::OnceCell::new(),
        }
    }

    /// Publishes a result together with those of the worker's other tasks
    /// that are ready at the same time; returns once it is confirmed.
    async fn publish(&self, result: TaskResult) -> Result<(), Error> {
        let reporter = self
            .reporter
            .get_or_init(|| async {
                let (sender, reports) = tokio::sync::mpsc::channel(REPORT_BATCH * 4);
                tokio::spawn(report(self.bus.clone(), reports));
                sender
            })
            .await;
        let (waiter, confirmed) = tokio::sync::oneshot::channel();
        let gone = || Error::Unavailable("the worker's result publisher stopped".into());
        reporter.send((result, waiter)).await.map_err(|_| gone())?;
        confirmed
            .await
            .map_err(|_| gone())?
            .map_err(Error::Unavailable)
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
        let span = task_span(&task);
        self.run_task(delivery, &task).instrument(span).await
    }

    async fn run_task(
        &self,
        delivery: <B::Tasks as Subscription<TaskMessage>>::Delivery,
        task: &TaskMessage,
    ) -> Result<(), Error> {
        let task = task.clone();
        let execution = self.executor.execute(&task);
        tokio::pin!(execution);
        let quick = tokio::select! {
            outcome = &mut execution => Some(outcome),
            () = tokio::time::sleep(START_REPORT_AFTER) => None,
        };
        let result = match quick {
            Some(outcome) => TaskResult::for_task(&task, outcome).started_by(&self.name),
            None => {
                tracing::debug!("task still running; reporting its start");
                let started = TaskOutcome::Started {
                    worker: self.name.clone(),
                };
                self.publish(TaskResult::for_task(&task, started)).await?;
                TaskResult::for_task(&task, execution.await)
            }
        };
        match &result.outcome {
            TaskOutcome::Failed { error } => {
                tracing::info!(error = %error.message, retryable = error.retryable, "task failed");
            }
            _ => tracing::debug!("task completed"),
        }
        self.publish(result)
            .await
            .inspect_err(|error| tracing::warn!(%error, "publishing the result failed; the task will be redelivered"))?;
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

/// The span of one task a worker runs, a child of the command that
/// scheduled it when the task carries a `traceparent`.
pub fn task_span(task: &TaskMessage) -> Span {
    let span = tracing::info_span!(
        "task",
        otel.name = %format_args!("task {}", task.step),
        queue = %task.queue,
        step = %task.step,
        instance_id = %task.instance_id,
        attempt = task.attempt,
        kind = ?task.kind,
        trace_id = tracing::field::Empty,
    );
    if let Some(parent) = task.traceparent.as_deref().and_then(TraceParent::parse) {
        span.record("trace_id", tracing::field::display(parent.trace_id()));
        trace::join(&span, &parent);
    }
    span
}

/// The `traceparent` an executor sends with the call it makes for `task`
/// (an HTTP request's header, a command's environment): the current
/// span's, in the task's trace. `None` for a task without trace context.
pub fn traceparent_for_call(task: &TaskMessage) -> Option<TraceParent> {
    let parent = TraceParent::parse(task.traceparent.as_deref()?)?;
    Some(trace::hand_on(&Span::current(), &parent))
}
