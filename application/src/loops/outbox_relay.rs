//! Publishes the outbox: claims rows under a lease, publishes them with
//! broker confirms, deletes what was confirmed. A crash between publish and
//! delete publishes again: at least once, never lost.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::engine::Engine;
use crate::messages::TaskMessage;
use crate::ports::{Bus, EventStore, OutboxQueue};

use super::FALLBACK_WAKE;

#[derive(Debug)]
pub struct OutboxRelay<S, B> {
    engine: Arc<Engine<S>>,
    bus: B,
    batch: usize,
    lease: Duration,
}

impl<S: EventStore + OutboxQueue, B: Bus> OutboxRelay<S, B> {
    pub fn new(engine: Arc<Engine<S>>, bus: B) -> Self {
        Self {
            engine,
            bus,
            batch: 512,
            lease: Duration::from_secs(10),
        }
    }

    /// Publishes one batch; returns how many rows it handled.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let store = self.engine.store();
        let pending = store
            .claim_outbox(self.engine.clock().now(), self.lease, self.batch)
            .await?;
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
        self.bus.publish_tasks(&tasks).await?;
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
