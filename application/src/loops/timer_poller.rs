//! Fires due timers: claims them under a lease, runs `FireTimer`, deletes them.
//! A timer whose firing failed (the database was unavailable) is tried again
//! on the next round while its lease holds, not left idle until it expires.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::engine::Engine;
use crate::ports::{DueTimer, EventStore, TimerQueue};

use super::FALLBACK_WAKE;

/// How soon timers are tried again after the store failed to fire them.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct TimerPoller<S> {
    engine: Arc<Engine<S>>,
    batch: usize,
    lease: Duration,
    /// Claimed timers whose firing failed, and when their lease ends.
    unfired: tokio::sync::Mutex<Option<(chrono::DateTime<chrono::Utc>, Vec<DueTimer>)>>,
}

impl<S: EventStore + TimerQueue> TimerPoller<S> {
    pub fn new(engine: Arc<Engine<S>>) -> Self {
        Self {
            engine,
            batch: 256,
            lease: Duration::from_secs(30),
            unfired: tokio::sync::Mutex::new(None),
        }
    }

    /// Fires the timers due now; returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let store = self.engine.store();
        let mut unfired = self.unfired.lock().await;
        let now = self.engine.clock().now();
        let (leased_until, due) = match unfired.take() {
            // Still ours: no other poller can have claimed them.
            Some((until, due)) if now < until => (until, due),
            _ => {
                let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
                (
                    until,
                    store.claim_due_timers(now, self.lease, self.batch).await?,
                )
            }
        };
        let mut fired = Vec::with_capacity(due.len());
        let mut failed = Vec::new();
        let mut first_failure = None;
        for timer in &due {
            match self.engine.fire(timer).await {
                // A timer for a vanished or refusing instance will never apply.
                Ok(_)
                | Err(Error::Rejected(_) | Error::NotFound { .. } | Error::Invalid { .. }) => {
                    fired.push(timer.id)
                }
                Err(error) => {
                    first_failure.get_or_insert(error);
                    failed.push(timer.clone());
                }
            }
        }
        store.complete_timers(&fired).await?;
        if !failed.is_empty() {
            let count = failed.len();
            *unfired = Some((leased_until, failed));
            return Err(Error::Unavailable {
                reason: format!("{count} timers could not be fired; retrying"),
                source: first_failure.map(|error| Arc::new(error) as crate::Source),
            });
        }
        Ok(due.len())
    }

    pub async fn run(&self) {
        loop {
            let claimed = match self.run_once().await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(error = %error.report(), "firing timers failed; retrying");
                    // The store is failing: try again soon, not in a spin.
                    tokio::time::sleep(RETRY_AFTER_FAILURE).await;
                    continue;
                }
            };
            if claimed >= self.batch {
                continue;
            }
            let next = self.engine.store().next_timer_due().await.ok().flatten();
            let wait = next
                .map(|due| {
                    (due - self.engine.clock().now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                })
                .unwrap_or(FALLBACK_WAKE)
                .min(FALLBACK_WAKE);
            if wait.is_zero() && claimed == 0 {
                // Due but leased elsewhere: wait for the lease, not in a spin.
                tokio::time::sleep(FALLBACK_WAKE).await;
                continue;
            }
            tokio::select! {
                _ = self.engine.timers_written.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
