//! Fires due timers: claims them under a lease, runs `FireTimer`, deletes them.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::engine::Engine;
use crate::ports::{EventStore, TimerQueue};

use super::FALLBACK_WAKE;

#[derive(Debug)]
pub struct TimerPoller<S> {
    engine: Arc<Engine<S>>,
    batch: usize,
    lease: Duration,
}

impl<S: EventStore + TimerQueue> TimerPoller<S> {
    pub fn new(engine: Arc<Engine<S>>) -> Self {
        Self {
            engine,
            batch: 256,
            lease: Duration::from_secs(30),
        }
    }

    /// Fires the timers due now; returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let store = self.engine.store();
        let due = store
            .claim_due_timers(self.engine.clock().now(), self.lease, self.batch)
            .await?;
        let mut fired = Vec::with_capacity(due.len());
        for timer in &due {
            match self.engine.fire(timer).await {
                // A timer for a vanished or refusing instance will never apply.
                Ok(_)
                | Err(Error::Rejected(_) | Error::NotFound { .. } | Error::Invalid { .. }) => {
                    fired.push(timer.id)
                }
                // Left leased: fired again once the lease runs out.
                Err(_) => {}
            }
        }
        store.complete_timers(&fired).await?;
        Ok(due.len())
    }

    pub async fn run(&self) {
        loop {
            let claimed = self.run_once().await.unwrap_or(0);
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
