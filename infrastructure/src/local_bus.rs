//! The in-process bus of the embedded mode: the same contract as RabbitMQ
//! (at-least-once, ack/requeue/reject, a dead-letter queue per queue) within
//! one process. A delivery dropped without being settled is requeued, as a
//! broker does when a consumer's channel closes. Prefetch is not enforced.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use application::Error;
use application::fleet::{WorkerPresence, WorkerSignal};
use application::messages::{ResultBatch, TaskMessage, TaskResult};
use application::ports::{BoxFuture, Bus, Delivery, Subscription, TaskHandout, WorkerChannel};
use tokio::sync::{Notify, mpsc};

#[derive(Debug)]
struct Queue<T> {
    ready: Mutex<VecDeque<(T, bool)>>,
    dead: Mutex<Vec<T>>,
    notify: Notify,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            ready: Mutex::new(VecDeque::new()),
            dead: Mutex::new(Vec::new()),
            notify: Notify::new(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T> Queue<T> {
    fn push(&self, message: T, redelivered: bool) {
        lock(&self.ready).push_back((message, redelivered));
        self.notify.notify_one();
    }

    async fn pop(&self) -> (T, bool) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(next) = lock(&self.ready).pop_front() {
                return next;
            }
            notified.await;
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct LocalBus {
    tasks: Arc<Mutex<HashMap<String, Arc<Queue<TaskMessage>>>>>,
    results: Arc<Queue<ResultBatch>>,
    fleet: Arc<Fleet>,
}

/// Presence and signals within the process: one reader of presence (the
/// node's recorder), one listener per worker id.
#[derive(Debug, Default)]
struct Fleet {
    presences: Mutex<Option<mpsc::Sender<WorkerPresence>>>,
    listeners: Mutex<HashMap<String, mpsc::Sender<WorkerSignal>>>,
}

/// Presence messages or signals waiting for their reader.
const FLEET_BUFFER: usize = 256;

impl LocalBus {
    fn task_queue(&self, name: &str) -> Arc<Queue<TaskMessage>> {
        lock(&self.tasks)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Tasks that were rejected from `queue` (its dead-letter queue).
    pub fn dead_tasks(&self, queue: &str) -> Vec<TaskMessage> {
        lock(&self.task_queue(queue).dead).clone()
    }

    /// Result messages that were rejected (the results dead-letter queue).
    pub fn dead_results(&self) -> Vec<ResultBatch> {
        lock(&self.results.dead).clone()
    }

    /// How many results wait to be consumed.
    pub fn results_waiting(&self) -> usize {
        lock(&self.results.ready).len()
    }

    /// How many tasks wait in `queue`.
    pub fn waiting(&self, queue: &str) -> usize {
        lock(&self.task_queue(queue).ready).len()
    }
}

#[derive(Debug)]
pub struct LocalSubscription<T> {
    queue: Arc<Queue<T>>,
    cancelled: bool,
}

#[derive(Debug)]
pub struct LocalDelivery<T> {
    message: Option<T>,
    redelivered: bool,
    queue: Arc<Queue<T>>,
}

impl<T> Drop for LocalDelivery<T> {
    fn drop(&mut self) {
        if let Some(message) = self.message.take() {
            self.queue.push(message, true);
        }
    }
}

impl<T: Send + Sync + 'static> Delivery<T> for LocalDelivery<T> {
    fn message(&self) -> &T {
        self.message
            .as_ref()
            .unwrap_or_else(|| unreachable!("a settled delivery is consumed"))
    }

    fn redelivered(&self) -> bool {
        self.redelivered
    }

    async fn ack(mut self) -> Result<(), Error> {
        self.message = None;
        Ok(())
    }

    async fn requeue(mut self) -> Result<(), Error> {
        if let Some(message) = self.message.take() {
            self.queue.push(message, true);
        }
        Ok(())
    }

    async fn reject(mut self) -> Result<(), Error> {
        if let Some(message) = self.message.take() {
            lock(&self.queue.dead).push(message);
        }
        Ok(())
    }
}

impl<T: Send + Sync + 'static> Subscription<T> for LocalSubscription<T> {
    type Delivery = LocalDelivery<T>;

    async fn next(&mut self) -> Option<Result<LocalDelivery<T>, Error>> {
        if self.cancelled {
            return None;
        }
        let (message, redelivered) = self.queue.pop().await;
        Some(Ok(LocalDelivery {
            message: Some(message),
            redelivered,
            queue: self.queue.clone(),
        }))
    }

    async fn cancel(&mut self) {
        self.cancelled = true;
    }
}

impl Bus for LocalBus {
    type Tasks = LocalSubscription<TaskMessage>;
    type Results = LocalSubscription<ResultBatch>;

    async fn publish_tasks(&self, tasks: &[TaskMessage]) -> Result<(), Error> {
        for task in tasks {
            self.task_queue(&task.queue).push(task.clone(), false);
        }
        Ok(())
    }

    async fn publish_results(&self, results: &[TaskResult]) -> Result<(), Error> {
        if results.is_empty() {
            return Ok(());
        }
        self.results.push(ResultBatch(results.to_vec()), false);
        Ok(())
    }

    async fn consume_tasks(&self, queue: &str, _prefetch: u16) -> Result<Self::Tasks, Error> {
        Ok(LocalSubscription {
            queue: self.task_queue(queue),
            cancelled: false,
        })
    }

    async fn consume_results(&self, _prefetch: u16) -> Result<Self::Results, Error> {
        Ok(LocalSubscription {
            queue: self.results.clone(),
            cancelled: false,
        })
    }
}

impl TaskHandout for LocalBus {
    /// Popping is one synchronous step once woken, so a wait that times out
    /// (or a poller that goes away) never loses a task.
    fn take<'a>(
        &'a self,
        queue: &'a str,
        wait: std::time::Duration,
    ) -> BoxFuture<'a, Result<Option<TaskMessage>, Error>> {
        Box::pin(async move {
            let queue = self.task_queue(queue);
            Ok(tokio::time::timeout(wait, queue.pop())
                .await
                .ok()
                .map(|(task, _)| task))
        })
    }
}

impl WorkerChannel for LocalBus {
    /// Dropped when no recorder listens (presence is best effort).
    fn announce<'a>(&'a self, presence: &'a WorkerPresence) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let sender = lock(&self.fleet.presences).clone();
            if let Some(sender) = sender {
                let _ = sender.send(presence.clone()).await;
            }
            Ok(())
        })
    }

    /// The last caller gets the presence messages from then on.
    fn presences(&self) -> BoxFuture<'_, Result<mpsc::Receiver<WorkerPresence>, Error>> {
        Box::pin(async move {
            let (sender, receiver) = mpsc::channel(FLEET_BUFFER);
            *lock(&self.fleet.presences) = Some(sender);
            Ok(receiver)
        })
    }

    fn signal<'a>(
        &'a self,
        worker_id: &'a str,
        signal: WorkerSignal,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let sender = lock(&self.fleet.listeners).get(worker_id).cloned();
            match sender {
                Some(sender) if sender.send(signal).await.is_ok() => Ok(()),
                _ => Err(Error::unavailable(format!(
                    "worker {worker_id} does not listen in this process"
                ))),
            }
        })
    }

    fn signals<'a>(
        &'a self,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<WorkerSignal>, Error>> {
        Box::pin(async move {
            let (sender, receiver) = mpsc::channel(FLEET_BUFFER);
            lock(&self.fleet.listeners).insert(worker_id.to_owned(), sender);
            Ok(receiver)
        })
    }
}
