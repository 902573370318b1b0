//! The bus of one process: the same contract as RabbitMQ (at least once,
//! ack/requeue/reject, a dead-letter queue per queue, higher priorities
//! first) without a broker. A delivery dropped without being settled is
//! requeued, as a broker does when a consumer's channel closes. Prefetch
//! is not enforced.
//!
//! [`LocalBus::durable`] is the embedded mode's: every message is also a
//! row of the SQLite file (`SqliteQueueRows`), stored before its publish
//! returns and deleted once it is acknowledged, so a process killed at any
//! moment delivers again, when it starts, every task and result it had not
//! acknowledged. [`LocalBus::default`] keeps messages in memory only, for
//! one-off runs and tests.

mod delivery;
mod queue;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use application::Error;
use application::messages::{ResultBatch, TaskMessage, TaskResult};
use application::ports::{BoxFuture, Bus, TaskHandout};
use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{NewQueueRow, QueueRow, RowKind, SqliteEventStore, SqliteQueueRows};

pub use delivery::{LocalDelivery, LocalSubscription};
use queue::{DeadEntry, Entry, Queue};

/// What the local bus carries: tasks and results.
pub trait Message: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    const KIND: RowKind;
    /// The task id (of the first result, for results).
    fn message_id(&self) -> &str;
    fn priority(&self) -> u8;
}

impl Message for TaskMessage {
    const KIND: RowKind = RowKind::Task;

    fn message_id(&self) -> &str {
        &self.task_id
    }

    fn priority(&self) -> u8 {
        self.priority
    }
}

impl Message for ResultBatch {
    const KIND: RowKind = RowKind::Result;

    fn message_id(&self) -> &str {
        self.0.first().map_or("", |result| result.task_id.as_str())
    }

    fn priority(&self) -> u8 {
        0
    }
}

/// A dead-lettered message: when, why, and after how many deliveries.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter<T> {
    pub message: T,
    pub message_id: String,
    pub dead_at: chrono::DateTime<Utc>,
    pub reason: String,
    pub deliveries: u32,
}

impl<T> From<DeadEntry<T>> for DeadLetter<T> {
    fn from(dead: DeadEntry<T>) -> Self {
        Self {
            message: dead.entry.message,
            message_id: dead.entry.message_id,
            dead_at: dead.dead_at,
            reason: dead.reason,
            deliveries: dead.entry.deliveries,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct LocalBus {
    tasks: Arc<Mutex<HashMap<String, Arc<Queue<TaskMessage>>>>>,
    results: Arc<Queue<ResultBatch>>,
    /// The rows that keep the messages, in the durable bus.
    rows: Option<Arc<SqliteQueueRows>>,
    /// Message ids of the in-memory bus.
    next_id: Arc<AtomicI64>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalBus {
    /// The bus whose queues live in `store`'s file: what an earlier run left
    /// unacknowledged is ready again (marked redelivered), and what it
    /// dead-lettered is in the dead-letter queues.
    pub async fn durable(store: &SqliteEventStore) -> Result<Self, Error> {
        let rows = SqliteQueueRows::new(store);
        let stored = rows.load().await?;
        let bus = Self {
            rows: Some(rows),
            ..Self::default()
        };
        let (mut tasks, mut results) = (0, 0);
        for row in stored {
            match row.kind {
                RowKind::Task => {
                    let queue = bus.task_queue(&row.row.queue);
                    tasks += usize::from(bus.restore(&queue, row).await?);
                }
                RowKind::Result => {
                    results += usize::from(bus.restore(&bus.results, row).await?);
                }
            }
        }
        if tasks + results > 0 {
            tracing::info!(
                tasks,
                results,
                "delivering again what the last run left unacknowledged"
            );
        }
        Ok(bus)
    }

    /// Puts a stored message back in its queue; true when it is ready (not
    /// dead). One that no longer reads is dead-lettered.
    async fn restore<T: Message>(&self, queue: &Queue<T>, row: QueueRow) -> Result<bool, Error> {
        let message = match serde_json::from_str::<T>(&row.row.body) {
            Ok(message) => message,
            Err(error) if row.dead.is_none() => {
                let reason = format!("the stored message does not read: {error}");
                tracing::warn!(id = row.id, %reason, "queue row dead-lettered");
                let dead_at = Utc::now();
                self.bury_row(row.id, row.deliveries, dead_at, &reason)
                    .await?;
                return Ok(false);
            }
            // A dead letter that does not read stays in its row, unlisted.
            Err(_) => return Ok(false),
        };
        let entry = Entry {
            id: row.id,
            message,
            message_id: row.row.message_id,
            priority: row.row.priority,
            published_at: row.row.published_at,
            deliveries: row.deliveries,
            redelivered: true,
        };
        Ok(match row.dead {
            Some((dead_at, reason)) => {
                queue.bury(DeadEntry {
                    entry,
                    dead_at,
                    reason,
                });
                false
            }
            None => {
                queue.push(entry);
                true
            }
        })
    }

    async fn bury_row(
        &self,
        id: i64,
        deliveries: u32,
        dead_at: chrono::DateTime<Utc>,
        reason: &str,
    ) -> Result<(), Error> {
        match &self.rows {
            Some(rows) => rows.bury(id, deliveries, dead_at, reason).await,
            None => Ok(()),
        }
    }

    fn task_queue(&self, name: &str) -> Arc<Queue<TaskMessage>> {
        lock(&self.tasks)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Stores (in the durable bus) and enqueues messages, each to the queue
    /// `queue_of` names; returns once they are stored.
    async fn publish<T: Message>(
        &self,
        messages: &[T],
        queue_name: impl Fn(&T) -> String,
        queue_of: impl Fn(&T) -> Arc<Queue<T>>,
    ) -> Result<(), Error> {
        let published_at = Utc::now();
        let ids = match &self.rows {
            Some(rows) => {
                let new_rows = messages
                    .iter()
                    .map(|message| {
                        Ok(NewQueueRow {
                            queue: queue_name(message),
                            message_id: message.message_id().to_owned(),
                            body: serde_json::to_string(message).map_err(|error| {
                                Error::internal(
                                    format!("writing message {} as JSON", message.message_id()),
                                    error,
                                )
                            })?,
                            priority: message.priority(),
                            published_at,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                rows.insert(T::KIND, &new_rows).await?
            }
            None => messages
                .iter()
                .map(|_| self.next_id.fetch_add(1, Ordering::Relaxed))
                .collect(),
        };
        for (id, message) in ids.into_iter().zip(messages) {
            queue_of(message).push(Entry {
                id,
                message_id: message.message_id().to_owned(),
                priority: message.priority(),
                published_at,
                deliveries: 0,
                redelivered: false,
                message: message.clone(),
            });
        }
        Ok(())
    }

    /// Tasks that were rejected from `queue` (its dead-letter queue).
    pub fn dead_tasks(&self, queue: &str) -> Vec<TaskMessage> {
        self.task_queue(queue)
            .dead()
            .into_iter()
            .map(|dead| dead.entry.message)
            .collect()
    }

    /// Result messages that were rejected (the results dead-letter queue).
    pub fn dead_results(&self) -> Vec<ResultBatch> {
        self.dead_result_letters()
            .into_iter()
            .map(|dead| dead.message)
            .collect()
    }

    /// The results dead-letter queue, with when and why each died.
    pub fn dead_result_letters(&self) -> Vec<DeadLetter<ResultBatch>> {
        self.results
            .dead()
            .into_iter()
            .map(DeadLetter::from)
            .collect()
    }

    /// How many results wait to be consumed.
    pub fn results_waiting(&self) -> usize {
        self.results.depths().ready
    }

    /// How many tasks wait in `queue`.
    pub fn waiting(&self, queue: &str) -> usize {
        self.task_queue(queue).depths().ready
    }

    /// How many tasks of `queue` are out with a consumer or a poller.
    pub fn unacknowledged(&self, queue: &str) -> usize {
        self.task_queue(queue).depths().unacknowledged
    }
}

impl Bus for LocalBus {
    type Tasks = LocalSubscription<TaskMessage>;
    type Results = LocalSubscription<ResultBatch>;

    async fn publish_tasks(&self, tasks: &[TaskMessage]) -> Result<(), Error> {
        self.publish(
            tasks,
            |task| task.queue.clone(),
            |task| self.task_queue(&task.queue),
        )
        .await
    }

    async fn publish_results(&self, results: &[TaskResult]) -> Result<(), Error> {
        if results.is_empty() {
            return Ok(());
        }
        let batch = [ResultBatch(results.to_vec())];
        self.publish(&batch, |_| String::new(), |_| self.results.clone())
            .await
    }

    async fn consume_tasks(&self, queue: &str, _prefetch: u16) -> Result<Self::Tasks, Error> {
        Ok(LocalSubscription::new(
            self.task_queue(queue),
            self.rows.clone(),
        ))
    }

    async fn consume_results(&self, _prefetch: u16) -> Result<Self::Results, Error> {
        Ok(LocalSubscription::new(
            self.results.clone(),
            self.rows.clone(),
        ))
    }
}

impl TaskHandout for LocalBus {
    /// The task stays unacknowledged, with the poller, until its result is
    /// stored ([`TaskHandout::settled`]); the durable bus hands it out
    /// again after a restart if none was. Taking is one synchronous step
    /// once woken, so a wait that times out (or a poller that goes away)
    /// never loses a task.
    fn take<'a>(
        &'a self,
        queue: &'a str,
        wait: std::time::Duration,
    ) -> BoxFuture<'a, Result<Option<TaskMessage>, Error>> {
        Box::pin(async move {
            let queue = self.task_queue(queue);
            let _waiting = queue.consumer();
            let Ok(entry) = tokio::time::timeout(wait, queue.pop()).await else {
                return Ok(None);
            };
            let task = entry.message.clone();
            queue.hand_out(entry);
            Ok(Some(task))
        })
    }

    fn settled<'a>(&'a self, task_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let queues: Vec<_> = lock(&self.tasks).values().cloned().collect();
            let removed = queues.iter().find_map(|queue| queue.remove(task_id));
            if let (Some(entry), Some(rows)) = (removed, &self.rows) {
                rows.acknowledge(entry.id);
            }
            Ok(())
        })
    }
}
