//! Publishes the outbox: claims rows under a lease, publishes them with
//! broker confirms, deletes what was confirmed. A crash between publish and
//! delete publishes again: at least once, never lost. A batch whose publish
//! fails (the broker is reconnecting) is kept and published again on the
//! next round while its lease holds, rather than left idle until the lease
//! runs out.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::engine::Engine;
use crate::messages::TaskMessage;
use crate::ports::{Bus, EventStore, OutboxQueue, PendingMessage};

use super::FALLBACK_WAKE;

#[derive(Debug)]
pub struct OutboxRelay<S, B> {
    engine: Arc<Engine<S>>,
    bus: B,
    batch: usize,
    lease: Duration,
    /// A claimed batch that failed to publish, and when its lease ends.
    unpublished: tokio::sync::Mutex<Option<(DateTime<Utc>, Vec<PendingMessage>)>>,
}

impl<S: EventStore + OutboxQueue, B: Bus> OutboxRelay<S, B> {
    pub fn new(engine: Arc<Engine<S>>, bus: B) -> Self {
        Self {
            engine,
            bus,
            batch: 512,
            lease: Duration::from_secs(10),
            unpublished: tokio::sync::Mutex::new(None),
        }
    }

    /// Publishes one batch; returns how many rows it handled.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let store = self.engine.store();
        let mut unpublished = self.unpublished.lock().await;
        let now = self.engine.clock().now();
        let (leased_until, pending) = match unpublished.take() {
            // Still ours: no other relay can have claimed these rows.
            Some((until, pending)) if now < until => (until, pending),
            _ => {
                let until = now + chrono::Duration::from_std(self.lease).unwrap_or_default();
                let pending = store.claim_outbox(now, self.lease, self.batch).await?;
                (until, pending)
            }
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let mut tasks = Vec::with_capacity(pending.len());
        let mut ids = Vec::with_capacity(pending.len());
        for row in &pending {
            ids.push(row.id);
            // A row that is not a task can never be published; drop it.
            if let Ok(task) = serde_json::from_value::<TaskMessage>(row.message.payload.clone()) {
                tasks.push(task);
            }
        }
        if let Err(error) = self.bus.publish_tasks(&tasks).await {
            *unpublished = Some((leased_until, pending));
            return Err(error);
        }
        store.complete_outbox(&ids).await?;
        Ok(pending.len())
    }

    pub async fn run(&self) {
        loop {
            match self.run_once().await {
                Ok(handled) if handled >= self.batch => continue,
                Ok(_) => {
                    tokio::select! {
                        _ = self.engine.outbox_written.notified() => {}
                        _ = tokio::time::sleep(FALLBACK_WAKE) => {}
                    }
                }
                // The broker or database is down: the rows stay and are retried.
                Err(_) => tokio::time::sleep(FALLBACK_WAKE).await,
            }
        }
    }
}
