//! A worker: consumes a task queue, runs the task with an executor (reporting
//! the start if it takes a while), publishes the result (together with the
//! results of its other tasks ready at the same time), then acknowledges
//! the task. A worker that dies before the ack leaves the task to be
//! redelivered (at least once).

use std::future::Future;

use tracing::{Instrument, Span};

use crate::Error;
use crate::fleet::{Drain, Tally};
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
    /// Publishes the results of the worker's tasks, together when several
    /// are ready at once.
    reporter: Reporter<B>,
    /// Its process's count of tasks, for its presence messages.
    tally: Option<std::sync::Arc<Tally>>,
    /// Once begun, the worker takes no new task.
    drain: Drain,
}

/// A result waiting to be published, and who waits for its confirm.
type Report = (TaskResult, tokio::sync::oneshot::Sender<Result<(), Error>>);

/// Results published in one message at most.
const REPORT_BATCH: usize = 64;

/// Publishes a worker's results. A result that comes while no publish is
/// under way is published at once, by its own task (no hand-off to another
/// task: on this 2-core machine a wake-up across threads cost about 0.4 ms
/// per step at 1 workflow in flight). Results that come while a publish
/// waits for its confirm queue up, and go out together in one message (one
/// publish, confirm, delivery and ack at the broker for all) once it is
/// confirmed. Under load a message carries many results; alone, each goes
/// at once.
#[derive(Debug)]
struct Reporter<B> {
    shared: std::sync::Arc<Reports<B>>,
}

#[derive(Debug)]
struct Reports<B> {
    bus: B,
    state: std::sync::Mutex<ReportState>,
}

#[derive(Debug, Default)]
struct ReportState {
    publishing: bool,
    waiting: Vec<Report>,
}

impl<B: Bus> Reporter<B> {
    fn new(bus: B) -> Self {
        Self {
            shared: std::sync::Arc::new(Reports {
                bus,
                state: std::sync::Mutex::default(),
            }),
        }
    }

    /// Returns once the result is confirmed.
    async fn publish(&self, result: TaskResult) -> Result<(), Error> {
        let mine = {
            let mut state = self.shared.lock();
            if state.publishing {
                let (waiter, confirmed) = tokio::sync::oneshot::channel();
                state.waiting.push((result, waiter));
                Err(confirmed)
            } else {
                state.publishing = true;
                Ok(result)
            }
        };
        match mine {
            Ok(result) => {
                let _turn = Turn(self.shared.clone());
                self.shared
                    .bus
                    .publish_results(std::slice::from_ref(&result))
                    .await
            }
            Err(confirmed) => confirmed
                .await
                .map_err(|_| Error::unavailable("the worker's result publisher stopped"))?,
        }
    }
}

impl<B> Reports<B> {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReportState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The turn to publish; when it ends (its publish confirmed or failed, or
/// its task dropped mid-way) it passes to a task that publishes what queued
/// up meanwhile, or lapses when nothing did.
struct Turn<B: Bus>(std::sync::Arc<Reports<B>>);

impl<B: Bus> Drop for Turn<B> {
    fn drop(&mut self) {
        let batch: Vec<Report> = {
            let mut state = self.0.lock();
            if state.waiting.is_empty() {
                state.publishing = false;
                return;
            }
            let take = state.waiting.len().min(REPORT_BATCH);
            state.waiting.drain(..take).collect()
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Shutting down: the waiters hear that the publisher stopped.
            let mut state = self.0.lock();
            state.waiting.clear();
            state.publishing = false;
            return;
        };
        let shared = self.0.clone();
        runtime.spawn(async move {
            let turn = Turn(shared);
            let (results, waiters): (Vec<TaskResult>, Vec<_>) = batch.into_iter().unzip();
            let published = turn.0.bus.publish_results(&results).await;
            for waiter in waiters {
                let _ = waiter.send(published.clone());
            }
        });
    }
}

impl<B: Bus, E: Executor> Worker<B, E> {
    pub fn new(bus: B, queue: impl Into<String>, name: impl Into<String>, executor: E) -> Self {
        Self {
            reporter: Reporter::new(bus.clone()),
            bus,
            queue: queue.into(),
            name: name.into(),
            executor,
            prefetch: 16,
            tally: None,
            drain: Drain::default(),
        }
    }

    /// Counts its tasks in `tally` and stops taking tasks once `drain` begins.
    pub fn in_fleet(mut self, tally: std::sync::Arc<Tally>, drain: Drain) -> Self {
        self.tally = Some(tally);
        self.drain = drain;
        self
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
        if let Some(tally) = &self.tally {
            tally.started(&task.task_id);
        }
        let outcome = self.run_task(delivery, &task).instrument(span).await;
        if let Some(tally) = &self.tally {
            tally.finished(&task.task_id, !matches!(outcome, Ok(true)));
        }
        outcome.map(|_| ())
    }

    /// True when the task completed (and its result was confirmed).
    async fn run_task(
        &self,
        delivery: <B::Tasks as Subscription<TaskMessage>>::Delivery,
        task: &TaskMessage,
    ) -> Result<bool, Error> {
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
                self.reporter
                    .publish(TaskResult::for_task(&task, started))
                    .await?;
                TaskResult::for_task(&task, execution.await)
            }
        };
        let completed = !matches!(result.outcome, TaskOutcome::Failed { .. });
        match &result.outcome {
            TaskOutcome::Failed { error } => {
                tracing::info!(error = %error.message, retryable = error.retryable, "task failed");
            }
            _ => tracing::debug!("task completed"),
        }
        self.reporter.publish(result)
            .await
            .inspect_err(|error| tracing::warn!(error = %error.report(), "publishing the result failed; the task will be redelivered"))?;
        delivery.ack().await?;
        Ok(completed)
    }

    /// Works until the subscription ends or a drain begins, up to
    /// `prefetch` tasks at once. On a drain it takes no new task: the tasks
    /// it started run on, and deliveries not yet taken go back to the
    /// queue.
    pub async fn run(self: std::sync::Arc<Self>) -> Result<(), Error>
    where
        B: 'static,
        E: 'static,
    {
        let mut tasks = self.bus.consume_tasks(&self.queue, self.prefetch).await?;
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(usize::from(self.prefetch)));
        loop {
            let next = tokio::select! {
                next = tasks.next() => next,
                () = self.drain.wait() => break,
            };
            let Some(delivery) = next else { break };
            let Ok(delivery) = delivery else {
                tokio::time::sleep(super::FALLBACK_WAKE).await;
                continue;
            };
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                () = self.drain.wait() => {
                    let _ = delivery.requeue().await;
                    break;
                }
            };
            let Ok(slot) = slot else {
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
        if self.drain.begun() {
            give_back(&mut tasks).await;
        }
        Ok(())
    }
}

/// Cancels a drained worker's subscription and puts back in the queue
/// what had already been delivered to it but not taken.
async fn give_back<S: Subscription<TaskMessage>>(tasks: &mut S) {
    tasks.cancel().await;
    while let Ok(Some(Ok(delivery))) =
        tokio::time::timeout(std::time::Duration::from_secs(1), tasks.next()).await
    {
        let _ = delivery.requeue().await;
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
