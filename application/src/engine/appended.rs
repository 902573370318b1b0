//! What an append hands on: the new state to the cache and the
//! subscribers, the outbox rows it wrote to this node's relay.

use crate::ports::{AppendOutcome, EventStore, OutboxMessage, PendingMessage};

use super::Engine;
use super::cache::Cached;

impl<S: EventStore> Engine<S> {
    /// Takes the outbox rows this engine appended since the last call: they
    /// are leased to it (see `APPENDED_OUTBOX_LEASE`), for its relay to
    /// publish without claiming them.
    pub fn take_appended_outbox(&self) -> Vec<PendingMessage> {
        std::mem::take(
            &mut *self
                .appended_outbox
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Hands the outbox rows of a successful append to the relay.
    pub(super) fn appended(&self, outbox: Vec<OutboxMessage>, outcome: &AppendOutcome) {
        if outbox.is_empty() || outcome.outbox_ids.len() != outbox.len() {
            return;
        }
        self.appended_outbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(
                outcome
                    .outbox_ids
                    .iter()
                    .zip(outbox)
                    .map(|(&id, message)| PendingMessage { id, message }),
            );
        self.outbox_written.notify_one();
    }

    /// After an append: cache the new state and tell the subscribers.
    pub(super) fn stored(&self, cached: Cached) {
        let (id, status) = (cached.state.id, cached.state.status);
        self.cache.remember(cached);
        let _ = self.changes.send(id);
        if status.is_final() {
            tracing::info!(status = status.as_str(), "workflow finished");
            let _ = self.finished.send((id, status));
        }
    }
}
