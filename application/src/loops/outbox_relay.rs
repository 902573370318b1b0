//! Publishes the outbox. The rows an engine appends are leased to it (see
//! `APPENDED_OUTBOX_LEASE`): its relay publishes them straight away, with
//! broker confirms, and deletes what was confirmed — no claim, no round trip
//! before the publish. Rows whose lease ran out (their node died, or could
//! not publish them) are claimed under a new lease, on the fallback tick, by
//! any node. A crash between publish and delete publishes again: at least
//! once, never lost. A batch whose publish fails (the broker is reconnecting)
//! is published again on the next round while its lease holds, rather than
//! left idle until the lease runs out.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::Error;
use crate::engine::Engine;
use crate::messages::TaskMessage;
use crate::ports::{APPENDED_OUTBOX_LEASE, Bus, EventStore, OutboxQueue, PendingMessage};

use super::FALLBACK_WAKE;

/// Rows still leased to this node that failed to publish, with their lease end.
type Unpublished = Vec<(DateTime<Utc>, Vec<PendingMessage>)>;

#[derive(Debug)]
pub struct OutboxRelay<S, B> {
    engine: Arc<Engine<S>>,
    bus: B,
    batch: usize,
    lease: Duration,
    unpublished: tokio::sync::Mutex<Unpublished>,
}

impl<S: EventStore + OutboxQueue, B: Bus> OutboxRelay<S, B> {
    pub fn new(engine: Arc<Engine<S>>, bus: B) -> Self {
        Self {
            engine,
            bus,
            batch: 512,
            lease: Duration::from_secs(10),
            unpublished: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    /// Publishes what this node appended and every row whose lease ran out;
    /// returns how many rows it handled.
    pub async fn run_once(&self) -> Result<usize, Error> {
        self.round(true).await
    }

    /// One round: this node's appended rows and the batches that failed
    /// before (while still leased to it), then, if `claim`, rows whose lease
    /// ran out.
    async fn round(&self, claim: bool) -> Result<usize, Error> {
        let store = self.engine.store();
        let mut unpublished = self.unpublished.lock().await;
        let now = self.engine.clock().now();
        let to_lease_end =
            |lease: Duration| now + chrono::Duration::from_std(lease).unwrap_or_default();
        let mut batches: Unpublished = std::mem::take(&mut *unpublished)
            .into_iter()
            // Past its lease a row may be claimed by another node: leave it.
            .filter(|(until, _)| now < *until)
            .collect();
        let appended = self.engine.take_appended_outbox();
        if !appended.is_empty() {
            // The lease began at the append, a moment ago: keep a margin.
            let margin = Duration::from_secs(2).min(APPENDED_OUTBOX_LEASE / 2);
            batches.push((to_lease_end(APPENDED_OUTBOX_LEASE - margin), appended));
        }
        if claim {
            let claimed = store.claim_outbox(now, self.lease, self.batch).await?;
            if !claimed.is_empty() {
                batches.push((to_lease_end(self.lease), claimed));
            }
        }
        let rows: usize = batches.iter().map(|(_, rows)| rows.len()).sum();
        if rows == 0 {
            return Ok(0);
        }
        let mut tasks = Vec::with_capacity(rows);
        let mut ids = Vec::with_capacity(rows);
        for row in batches.iter().flat_map(|(_, rows)| rows) {
            ids.push(row.id);
            // A row that is not a task can never be published; drop it.
            if let Ok(task) = serde_json::from_value::<TaskMessage>(row.message.payload.clone()) {
                tasks.push(task);
            }
        }
        if let Err(error) = self.bus.publish_tasks(&tasks).await {
            tracing::warn!(%error, tasks = tasks.len(), "publishing tasks failed; retrying");
            *unpublished = batches;
            return Err(error);
        }
        store.complete_outbox(&ids).await?;
        Ok(rows)
    }

    pub async fn run(&self) {
        let mut claim = true;
        loop {
            match self.round(claim).await {
                Ok(handled) if handled >= self.batch => {
                    claim = true;
                    continue;
                }
                Ok(_) => {
                    tokio::select! {
                        _ = self.engine.outbox_written.notified() => claim = false,
                        _ = tokio::time::sleep(FALLBACK_WAKE) => claim = true,
                    }
                }
                // The broker or database is down: the rows stay and are retried.
                Err(_) => {
                    tokio::time::sleep(FALLBACK_WAKE).await;
                    claim = true;
                }
            }
        }
    }
}
