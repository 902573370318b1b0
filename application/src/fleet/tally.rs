//! What a built-in worker process counts about its own tasks, for its
//! presence messages, and the drain it may be asked for.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// Tasks in flight (by task id) and the completed and failed counts of
/// every worker loop of one process.
#[derive(Debug, Default)]
pub struct Tally {
    in_flight: Mutex<BTreeSet<String>>,
    completed: AtomicU64,
    failed: AtomicU64,
    idle: tokio::sync::Notify,
    /// Told when the worker turns busy or idle.
    turned: tokio::sync::Notify,
}

impl Tally {
    pub fn started(&self, task_id: &str) {
        let mut in_flight = self.lock();
        in_flight.insert(task_id.to_owned());
        if in_flight.len() == 1 {
            self.turned.notify_one();
        }
    }

    pub fn finished(&self, task_id: &str, failed: bool) {
        let counter = if failed {
            &self.failed
        } else {
            &self.completed
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut in_flight = self.lock();
        in_flight.remove(task_id);
        if in_flight.is_empty() {
            self.idle.notify_waiters();
            self.turned.notify_one();
        }
    }

    /// Returns once the worker turned busy or idle (since the last call).
    pub async fn turned(&self) {
        self.turned.notified().await;
    }

    pub fn in_flight(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    pub fn counts(&self) -> (u64, u64) {
        (
            self.completed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// Returns once no task is in flight.
    pub async fn until_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().is_empty() {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A drain: once begun, the worker loops take no new task.
#[derive(Clone, Debug)]
pub struct Drain(watch::Sender<bool>);

impl Default for Drain {
    fn default() -> Self {
        Self(watch::Sender::new(false))
    }
}

impl Drain {
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    pub fn begun(&self) -> bool {
        *self.0.borrow()
    }

    /// Returns once the drain has begun.
    pub async fn wait(&self) {
        let mut begun = self.0.subscribe();
        let _ = begun.wait_for(|begun| *begun).await;
    }
}
