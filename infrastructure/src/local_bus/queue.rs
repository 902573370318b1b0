//! One queue of the local bus, in memory: messages ready to deliver (by
//! priority, then in publish order), how many are out with a consumer, the
//! tasks handed out to HTTP pollers (kept until their result is reported),
//! and the dead letters. The journal, when there is one, holds the same
//! messages as rows; this is its index.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

/// A message and what the queue knows of it.
#[derive(Clone, Debug)]
pub(crate) struct Entry<T> {
    /// The journal's row id (a counter without a journal).
    pub(crate) id: i64,
    pub(crate) message: T,
    /// The task id (of the first result, for a results message).
    pub(crate) message_id: String,
    pub(crate) priority: u8,
    pub(crate) published_at: DateTime<Utc>,
    /// Deliveries so far (to a consumer or a poller).
    pub(crate) deliveries: u32,
    /// Whether it may have been delivered before (also after a restart).
    pub(crate) redelivered: bool,
}

/// A message given up on.
#[derive(Clone, Debug)]
pub(crate) struct DeadEntry<T> {
    pub(crate) entry: Entry<T>,
    pub(crate) dead_at: DateTime<Utc>,
    pub(crate) reason: String,
}

/// Higher priority first, then older first.
type Key = (Reverse<u8>, i64);

#[derive(Debug)]
struct State<T> {
    ready: BTreeMap<Key, Entry<T>>,
    /// Delivered to a consumer, not settled yet.
    delivered: usize,
    /// Handed out to an HTTP poller, by message id, until reported.
    handed_out: HashMap<String, Entry<T>>,
    dead: Vec<DeadEntry<T>>,
    consumers: usize,
}

#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    notify: Notify,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                ready: BTreeMap::new(),
                delivered: 0,
                handed_out: HashMap::new(),
                dead: Vec::new(),
                consumers: 0,
            }),
            notify: Notify::new(),
        }
    }
}

/// What a queue holds now, for the operator's view.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Depths {
    pub(crate) ready: usize,
    /// With a consumer or a poller, not acknowledged.
    pub(crate) unacknowledged: usize,
    pub(crate) oldest_ready: Option<DateTime<Utc>>,
    pub(crate) consumers: usize,
    pub(crate) dead: usize,
}

impl<T> Queue<T> {
    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `entry` ready and wakes one waiting consumer.
    pub(crate) fn push(&self, entry: Entry<T>) {
        self.state()
            .ready
            .insert((Reverse(entry.priority), entry.id), entry);
        self.notify.notify_one();
    }

    /// A delivered message comes back (requeued, or its consumer went away).
    pub(crate) fn give_back(&self, mut entry: Entry<T>) {
        entry.redelivered = true;
        let mut state = self.state();
        state.delivered = state.delivered.saturating_sub(1);
        state
            .ready
            .insert((Reverse(entry.priority), entry.id), entry);
        drop(state);
        self.notify.notify_one();
    }

    /// A delivered message is done with (acknowledged or dead-lettered).
    pub(crate) fn settled(&self) {
        let mut state = self.state();
        state.delivered = state.delivered.saturating_sub(1);
    }

    /// Waits for the next ready message and takes it for a consumer. Taking
    /// is one synchronous step once woken, so a caller that stops waiting
    /// never loses a message.
    pub(crate) async fn pop(&self) -> Entry<T> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(entry) = self.take_ready() {
                return entry;
            }
            notified.await;
        }
    }

    fn take_ready(&self) -> Option<Entry<T>> {
        let mut state = self.state();
        let (_, mut entry) = state.ready.pop_first()?;
        entry.deliveries += 1;
        state.delivered += 1;
        Some(entry)
    }

    /// Moves a delivered message to the poller it is handed out to.
    pub(crate) fn hand_out(&self, entry: Entry<T>)
    where
        T: Clone,
    {
        let mut state = self.state();
        state.delivered = state.delivered.saturating_sub(1);
        state.handed_out.insert(entry.message_id.clone(), entry);
    }

    /// Takes the message `message_id` off the queue, wherever it waits
    /// (handed out, or ready again after a restart): its result is stored.
    pub(crate) fn remove(&self, message_id: &str) -> Option<Entry<T>> {
        let mut state = self.state();
        if let Some(entry) = state.handed_out.remove(message_id) {
            return Some(entry);
        }
        let key = state
            .ready
            .iter()
            .find(|(_, entry)| entry.message_id == message_id)
            .map(|(key, _)| *key)?;
        state.ready.remove(&key)
    }

    pub(crate) fn bury(&self, dead: DeadEntry<T>) {
        self.state().dead.push(dead);
    }

    /// The dead letters, oldest first.
    pub(crate) fn dead(&self) -> Vec<DeadEntry<T>>
    where
        T: Clone,
    {
        self.state().dead.clone()
    }

    pub(crate) fn depths(&self) -> Depths {
        let state = self.state();
        Depths {
            ready: state.ready.len(),
            unacknowledged: state.delivered + state.handed_out.len(),
            oldest_ready: state.ready.values().map(|entry| entry.published_at).min(),
            consumers: state.consumers,
            dead: state.dead.len(),
        }
    }

    /// Counts a consumer for as long as the guard lives.
    pub(crate) fn consumer(self: &std::sync::Arc<Self>) -> ConsumerGuard<T> {
        self.state().consumers += 1;
        ConsumerGuard(self.clone())
    }
}

/// One consumer of a queue (a subscription, or a poll while it waits).
#[derive(Debug)]
pub(crate) struct ConsumerGuard<T>(std::sync::Arc<Queue<T>>);

impl<T> Drop for ConsumerGuard<T> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.consumers = state.consumers.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, priority: u8) -> Entry<&'static str> {
        Entry {
            id,
            message: "m",
            message_id: format!("m{id}"),
            priority,
            published_at: Utc::now(),
            deliveries: 0,
            redelivered: false,
        }
    }

    #[tokio::test]
    async fn delivers_higher_priorities_first_then_in_publish_order() {
        let queue = Queue::default();
        for (id, priority) in [(1, 0), (2, 5), (3, 0), (4, 5)] {
            queue.push(entry(id, priority));
        }
        let mut order = Vec::new();
        for _ in 0..4 {
            order.push(queue.pop().await.id);
        }
        assert_eq!(order, [2, 4, 1, 3]);
        assert_eq!(queue.depths().unacknowledged, 4);
    }

    #[tokio::test]
    async fn a_handed_out_message_is_removed_by_its_id_and_counted_until_then() {
        let queue = Queue::default();
        queue.push(entry(1, 0));
        queue.push(entry(2, 0));
        let first = queue.pop().await;
        queue.hand_out(first);
        assert_eq!(queue.depths().unacknowledged, 1);
        assert_eq!(queue.remove("m1").map(|entry| entry.id), Some(1));
        assert_eq!(queue.remove("m2").map(|entry| entry.id), Some(2));
        assert_eq!(queue.depths(), Depths::default());
    }
}
