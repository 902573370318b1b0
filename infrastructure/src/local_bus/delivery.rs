//! Consuming a local queue: a subscription hands out deliveries, each
//! settled once (acknowledged, requeued or dead-lettered) or requeued when
//! dropped unsettled.

use std::sync::Arc;

use application::Error;
use application::ports::{Delivery, Subscription};
use chrono::Utc;

use super::Message;
use super::queue::{ConsumerGuard, DeadEntry, Entry, Queue};
use crate::store::SqliteQueueRows;

/// Why a message a consumer rejected is in the dead-letter queue.
const REJECTED: &str = "rejected by its consumer";

#[derive(Debug)]
pub struct LocalSubscription<T> {
    queue: Arc<Queue<T>>,
    rows: Option<Arc<SqliteQueueRows>>,
    _consumer: ConsumerGuard<T>,
}

impl<T> LocalSubscription<T> {
    pub(super) fn new(queue: Arc<Queue<T>>, rows: Option<Arc<SqliteQueueRows>>) -> Self {
        Self {
            _consumer: queue.consumer(),
            queue,
            rows,
        }
    }
}

#[derive(Debug)]
pub struct LocalDelivery<T> {
    entry: Option<Entry<T>>,
    queue: Arc<Queue<T>>,
    rows: Option<Arc<SqliteQueueRows>>,
}

impl<T> LocalDelivery<T> {
    fn take(&mut self) -> Entry<T> {
        self.entry
            .take()
            .unwrap_or_else(|| unreachable!("a delivery is settled once"))
    }
}

impl<T> Drop for LocalDelivery<T> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.queue.give_back(entry);
        }
    }
}

impl<T: Message> Delivery<T> for LocalDelivery<T> {
    fn message(&self) -> &T {
        &self
            .entry
            .as_ref()
            .unwrap_or_else(|| unreachable!("a settled delivery is consumed"))
            .message
    }

    fn redelivered(&self) -> bool {
        self.entry.as_ref().is_some_and(|entry| entry.redelivered)
    }

    async fn ack(mut self) -> Result<(), Error> {
        let entry = self.take();
        self.queue.settled();
        if let Some(rows) = &self.rows {
            rows.acknowledge(entry.id);
        }
        Ok(())
    }

    async fn requeue(mut self) -> Result<(), Error> {
        let entry = self.take();
        self.queue.give_back(entry);
        Ok(())
    }

    async fn reject(mut self) -> Result<(), Error> {
        let entry = self.take();
        let dead_at = Utc::now();
        if let Some(rows) = &self.rows
            && let Err(error) = rows
                .bury(entry.id, entry.deliveries, dead_at, REJECTED)
                .await
        {
            self.queue.give_back(entry);
            return Err(error);
        }
        self.queue.settled();
        self.queue.bury(DeadEntry {
            entry,
            dead_at,
            reason: REJECTED.to_owned(),
        });
        Ok(())
    }
}

impl<T: Message> Subscription<T> for LocalSubscription<T> {
    type Delivery = LocalDelivery<T>;

    async fn next(&mut self) -> Option<Result<LocalDelivery<T>, Error>> {
        let entry = self.queue.pop().await;
        Some(Ok(LocalDelivery {
            entry: Some(entry),
            queue: self.queue.clone(),
            rows: self.rows.clone(),
        }))
    }
}
