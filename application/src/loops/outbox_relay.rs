//! Publishes the outbox. The rows an engine appends are leased to it (see
//! `APPENDED_OUTBOX_LEASE`): its relay publishes them straight away, with
//! broker confirms, and deletes what was confirmed — no claim, no round trip
//! before the publish. Rows whose lease ran out (their node died, or could
//! not publish them) are claimed under a new lease, on the fallback tick, by
//! any node. A crash between publish and delete publishes again: at least
//! once, never lost. A batch whose publish fails (the broker is reconnecting)
//! is published again on the next round while its lease holds, rather than
//! left idle until the lease runs out.
//!
//! Confirmed rows are deleted in batches, at most `DELETE_DELAY` after their
//! confirm (or once `batch` of them wait): a delete per publish was a
//! commit per round, about a third of PostgreSQL's transactions in the
//! cluster benchmark. A row published but not yet deleted when its node
//! dies is published again after its lease: at least once, as before.

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

/// How long a confirmed row may wait for its delete: well inside its lease.
const DELETE_DELAY: Duration = Duration::from_millis(50);

/// Rows published and confirmed, not deleted yet; `since` is when the
/// oldest of them was confirmed.
#[derive(Debug, Default)]
struct Confirmed {
    ids: Vec<i64>,
    since: Option<tokio::time::Instant>,
}

#[derive(Debug)]
pub struct OutboxRelay<S, B> {
    engine: Arc<Engine<S>>,
    bus: B,
    batch: usize,
    lease: Duration,
    unpublished: tokio::sync::Mutex<Unpublished>,
    confirmed: tokio::sync::Mutex<Confirmed>,
}

impl<S: EventStore + OutboxQueue, B: Bus> OutboxRelay<S, B> {
    pub fn new(engine: Arc<Engine<S>>, bus: B) -> Self {
        Self {
            engine,
            bus,
            batch: 512,
            lease: Duration::from_secs(10),
            unpublished: tokio::sync::Mutex::new(Vec::new()),
            confirmed: tokio::sync::Mutex::new(Confirmed::default()),
        }
    }

    /// Publishes what this node appended and every row whose lease ran out,
    /// and deletes every confirmed row; returns how many rows it published.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let published = self.round(true).await?;
        self.delete_confirmed().await?;
        Ok(published)
    }

    /// Deletes the rows confirmed so far. On failure they are kept for the
    /// next try (deleting a row twice is harmless).
    async fn delete_confirmed(&self) -> Result<(), Error> {
        let mut confirmed = self.confirmed.lock().await;
        if confirmed.ids.is_empty() {
            return Ok(());
        }
        self.engine.store().complete_outbox(&confirmed.ids).await?;
        *confirmed = Confirmed::default();
        Ok(())
    }

    /// When the oldest confirmed row is due for its delete, if any waits.
    async fn delete_due(&self) -> Option<tokio::time::Instant> {
        self.confirmed
            .lock()
            .await
            .since
            .map(|since| since + DELETE_DELAY)
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
            tracing::warn!(error = %error.report(), tasks = tasks.len(), "publishing tasks failed; retrying");
            *unpublished = batches;
            return Err(error);
        }
        drop(unpublished);
        let full = {
            let mut confirmed = self.confirmed.lock().await;
            confirmed.ids.extend(ids);
            confirmed
                .since
                .get_or_insert_with(tokio::time::Instant::now);
            confirmed.ids.len() >= self.batch
        };
        if full {
            self.delete_confirmed().await?;
        }
        Ok(rows)
    }

    /// Publishes as rows are appended, deletes confirmed rows in batches,
    /// and claims rows whose lease ran out every `FALLBACK_WAKE` (even
    /// while appends keep it busy: a dead node's rows must not wait for a
    /// quiet moment).
    pub async fn run(&self) {
        use tokio::time::Instant;
        let mut last_claim: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let claim = last_claim.is_none_or(|at| now >= at + FALLBACK_WAKE);
            if claim {
                last_claim = Some(now);
            }
            match self.round(claim).await {
                // There may be more: claim again at once.
                Ok(handled) if handled >= self.batch => last_claim = None,
                Ok(_) => {
                    let delete_at = self.delete_due().await;
                    if delete_at.is_some_and(|at| at <= Instant::now()) {
                        // A failed delete is retried with the next ones.
                        let _ = self.delete_confirmed().await;
                        continue;
                    }
                    let claim_at = last_claim.map_or(now, |at| at + FALLBACK_WAKE);
                    let wake_at = delete_at.map_or(claim_at, |at| at.min(claim_at));
                    tokio::select! {
                        _ = self.engine.outbox_written.notified() => {}
                        _ = tokio::time::sleep_until(wake_at) => {}
                    }
                }
                // The broker or database is down: the rows stay and are retried.
                Err(_) => {
                    tokio::time::sleep(FALLBACK_WAKE).await;
                    last_claim = None;
                }
            }
        }
    }
}
