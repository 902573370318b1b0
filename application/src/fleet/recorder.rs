//! The engine node's side of presence: records what workers announce on
//! the bus, and forgets workers unheard of for a day.

use std::sync::Arc;

use super::{WorkerPresence, record_presence};
use crate::Error;
use crate::clock::Clock;
use crate::ports::{WorkerChannel, WorkerRegistry};

/// Records of workers unheard of for longer are deleted.
const FORGET_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// Presence messages between two clean-ups.
const CLEAN_EVERY: u64 = 1_000;

pub struct PresenceRecorder {
    registry: Arc<dyn WorkerRegistry>,
    channel: Arc<dyn WorkerChannel>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for PresenceRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresenceRecorder")
    }
}

impl PresenceRecorder {
    pub fn new(
        registry: Arc<dyn WorkerRegistry>,
        channel: Arc<dyn WorkerChannel>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            registry,
            channel,
            clock,
        }
    }

    pub async fn run_once(&self, presence: WorkerPresence) -> Result<(), Error> {
        record_presence(self.registry.as_ref(), presence, self.clock.now()).await
    }

    /// Records presence messages until the bus is gone.
    pub async fn run(&self) -> Result<(), Error> {
        let mut presences = self.channel.presences().await?;
        let mut heard = 0_u64;
        while let Some(presence) = presences.recv().await {
            if let Err(error) = self.run_once(presence).await {
                tracing::warn!(error = %error.report(), "recording a worker's presence failed");
            }
            heard += 1;
            if heard % CLEAN_EVERY == 1 {
                let before = self.clock.now() - FORGET_AFTER;
                if let Err(error) = self.registry.forget(before).await {
                    tracing::warn!(error = %error.report(), "forgetting old workers failed");
                }
            }
        }
        Ok(())
    }
}
