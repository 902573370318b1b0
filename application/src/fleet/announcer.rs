//! A worker process's presence: hello at start, a heartbeat every
//! [`HEARTBEAT_INTERVAL`] (and soon after it turns busy or idle, at once
//! when a drain begins), goodbye at the end; and the drain signal heard on
//! its control queue.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Drain, Tally};
use super::{HEARTBEAT_INTERVAL, PresenceKind, WorkerPresence, WorkerSignal};
use crate::Error;
use crate::ports::WorkerChannel;

/// Who a worker process is; fixed for its life.
#[derive(Clone, Debug)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub host: String,
    pub version: String,
    pub queues: Vec<String>,
    pub capacity: u32,
    pub started_at: DateTime<Utc>,
}

/// The least time between two beats told by turns busy or idle.
const TURN_GAP: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Announcer {
    channel: Arc<dyn WorkerChannel>,
    identity: Identity,
    tally: Arc<Tally>,
    drain: Drain,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Announcer {
    pub fn new(
        channel: Arc<dyn WorkerChannel>,
        identity: Identity,
        tally: Arc<Tally>,
        drain: Drain,
    ) -> Self {
        Self {
            channel,
            identity,
            tally,
            drain,
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// What the worker says of itself now.
    pub fn presence(&self, kind: PresenceKind) -> WorkerPresence {
        let (completed, failed) = self.tally.counts();
        WorkerPresence {
            kind,
            worker_id: self.identity.id.clone(),
            name: self.identity.name.clone(),
            host: self.identity.host.clone(),
            version: self.identity.version.clone(),
            queues: self.identity.queues.clone(),
            capacity: self.identity.capacity,
            in_flight: self.tally.in_flight(),
            completed,
            failed,
            draining: self.drain.begun() || kind == PresenceKind::Goodbye,
            started_at: self.identity.started_at,
        }
    }

    pub async fn announce(&self, kind: PresenceKind) -> Result<(), Error> {
        self.channel.announce(&self.presence(kind)).await
    }

    /// Says hello, then heartbeats and listens for signals until dropped.
    /// Failures are logged and retried at the next beat: presence is best
    /// effort, the tasks are not affected.
    pub async fn run(self: Arc<Self>) {
        let mut signals = match self.channel.signals(&self.identity.id).await {
            Ok(signals) => Some(signals),
            Err(error) => {
                tracing::warn!(error = %error.report(), "cannot listen for signals: this worker cannot be drained");
                None
            }
        };
        self.beat(PresenceKind::Hello).await;
        let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
        ticks.tick().await;
        let mut drain_seen = self.drain.begun();
        loop {
            tokio::select! {
                _ = ticks.tick() => self.beat(PresenceKind::Heartbeat).await,
                () = self.tally.turned() => {
                    // At most one extra beat a second, however often it turns.
                    tokio::time::sleep(TURN_GAP).await;
                    self.beat(PresenceKind::Heartbeat).await;
                }
                signal = async { signals.as_mut()?.recv().await } => match signal {
                    Some(WorkerSignal::Drain) => {
                        tracing::info!("asked to drain: finishing the running tasks, taking no new one");
                        self.drain.begin();
                    }
                    None => signals = None,
                },
                () = self.drain.wait(), if !drain_seen => {
                    drain_seen = true;
                    self.beat(PresenceKind::Heartbeat).await;
                }
            }
        }
    }

    async fn beat(&self, kind: PresenceKind) {
        if let Err(error) = self.announce(kind).await {
            tracing::warn!(error = %error.report(), "announcing this worker failed");
        }
    }
}
