//! The projector: reads the global log after the read models' checkpoint and
//! applies the row changes with the new checkpoint in one transaction. On
//! PostgreSQL one node at a time holds the projection (the writer's
//! advisory lock); the others find it busy and wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use domain::instance::Event;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::TryRecvError;

use super::changes_of;
use crate::Error;
use crate::catalog;
use crate::codec::decode;
use crate::engine::Engine;
use crate::ports::{ApplyOutcome, DefinitionStore, EventStore, ProjectionBatch, ProjectionWriter};

/// The checkpoint is not known: read it from the store.
const UNKNOWN: i64 = -1;

/// How long a projector that found the projection held elsewhere waits.
const BUSY_WAIT: Duration = Duration::from_secs(2);

/// What one round did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// Projected this many events (0: caught up).
    Projected(usize),
    /// Another node holds the projection, or moved it first.
    Busy,
}

#[derive(Debug)]
pub struct Projector<S, R> {
    engine: Arc<Engine<S>>,
    read_models: R,
    batch: usize,
    /// Woken when another node appended (PostgreSQL notifications).
    wake: Arc<Notify>,
    /// The checkpoint this projector last wrote, so that a round does not
    /// read it again (-1: unknown). Another node or a rebuild that moved it
    /// makes the next apply answer `Moved`, and it is read again.
    checkpoint: AtomicI64,
}

impl<S: EventStore, R: ProjectionWriter + DefinitionStore> Projector<S, R> {
    pub fn new(engine: Arc<Engine<S>>, read_models: R) -> Self {
        Self {
            engine,
            read_models,
            batch: 500,
            wake: Arc::new(Notify::new()),
            checkpoint: AtomicI64::new(UNKNOWN),
        }
    }

    /// The wake-up for appends made by other processes.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Projects one batch of the log.
    pub async fn run_once(&self) -> Result<Round, Error> {
        let after = match self.checkpoint.load(Ordering::SeqCst) {
            UNKNOWN => self.read_models.checkpoint().await?,
            known => known,
        };
        let records = self.engine.store().read_all(after, self.batch).await?;
        let Some(last) = records.last() else {
            return Ok(Round::Projected(0));
        };
        let mut changes = Vec::with_capacity(records.len());
        for record in &records {
            let event = decode(record)?;
            let definition = match &event {
                Event::WorkflowStarted {
                    definition,
                    version,
                    ..
                } => catalog::resolve(
                    self.engine.definitions(),
                    &self.read_models,
                    definition,
                    *version,
                )
                .await
                .ok(),
                _ => None,
            };
            changes.extend(changes_of(
                record.stream_id,
                record.metadata.occurred_at,
                &event,
                definition.as_deref(),
            ));
        }
        let batch = ProjectionBatch {
            after,
            through: last.position,
            changes,
        };
        let applied = self.read_models.apply(&batch).await;
        Ok(match applied {
            Ok(ApplyOutcome::Applied) => {
                self.checkpoint.store(batch.through, Ordering::SeqCst);
                Round::Projected(records.len())
            }
            Ok(ApplyOutcome::Busy | ApplyOutcome::Moved) => {
                self.checkpoint.store(UNKNOWN, Ordering::SeqCst);
                Round::Busy
            }
            Err(error) => {
                self.checkpoint.store(UNKNOWN, Ordering::SeqCst);
                return Err(error);
            }
        })
    }

    /// Projects until the read models hold every event committed when it
    /// was called; returns how many events it projected. (On PostgreSQL an
    /// older transaction still running holds later events back for a while.)
    pub async fn catch_up(&self) -> Result<usize, Error> {
        let head = self.read_models.log_head().await?;
        let mut total = 0;
        loop {
            match self.run_once().await? {
                Round::Projected(0) if self.read_models.checkpoint().await? >= head => {
                    return Ok(total);
                }
                Round::Projected(0) => tokio::time::sleep(Duration::from_millis(20)).await,
                Round::Projected(count) => total += count,
                Round::Busy => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Projects forever, sleeping until this process or (on PostgreSQL)
    /// another node appends.
    pub async fn run(&self) {
        let mut appended = self.engine.subscribe();
        loop {
            // Drop the wake-ups this round will cover anyway.
            while !matches!(
                appended.try_recv(),
                Err(TryRecvError::Empty | TryRecvError::Closed)
            ) {}
            match self.run_once().await {
                Ok(Round::Projected(count)) if count >= self.batch => continue,
                Ok(Round::Projected(_)) => {
                    tokio::select! {
                        _ = appended.recv() => {}
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(crate::loops::FALLBACK_WAKE) => {}
                    }
                }
                Ok(Round::Busy) => tokio::time::sleep(BUSY_WAIT).await,
                Err(error) => {
                    tracing::error!(error = %error.report(), "projecting the read models failed");
                    tokio::time::sleep(crate::loops::FALLBACK_WAKE).await;
                }
            }
        }
    }
}
