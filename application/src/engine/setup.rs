//! The engine's parts (its store, definitions, clock, state cache, claims,
//! start queue and the channels it tells others through), made once per
//! node, and what it hands out of them.

use std::sync::{Arc, Mutex};

use domain::InstanceId;
use domain::instance::InstanceStatus;
use tokio::sync::{Notify, broadcast};

use super::cache::StateCache;
use super::{claims, starts};
use crate::clock::Clock;
use crate::definitions::DefinitionRegistry;
use crate::ports::{EventStore, PendingMessage};

/// Runs commands against instances; one per node, shared by its API and its
/// loops.
pub struct Engine<S> {
    pub(super) store: S,
    pub(super) definitions: Arc<DefinitionRegistry>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) cache: StateCache,
    /// Instances a command of this node is deciding now.
    pub(super) claims: claims::Claims,
    /// Starts waiting to be stored together.
    pub(super) starts: starts::StartQueue,
    /// Woken after an append that wrote outbox rows or timers.
    pub outbox_written: Arc<Notify>,
    pub timers_written: Arc<Notify>,
    /// Every instance that got new events in this process.
    pub(super) changes: broadcast::Sender<InstanceId>,
    /// Outbox rows this engine appended and its relay has yet to publish.
    pub(super) appended_outbox: Mutex<Vec<PendingMessage>>,
    /// Every instance that reached a final status in this process.
    pub(super) finished: broadcast::Sender<(InstanceId, InstanceStatus)>,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl<S: EventStore> Engine<S> {
    pub fn new(store: S, definitions: Arc<DefinitionRegistry>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            definitions,
            clock,
            cache: StateCache::new(super::cache::CAPACITY),
            claims: claims::Claims::default(),
            starts: starts::StartQueue::default(),
            outbox_written: Arc::new(Notify::new()),
            timers_written: Arc::new(Notify::new()),
            changes: broadcast::channel(1024).0,
            finished: broadcast::channel(1024).0,
            appended_outbox: Mutex::new(Vec::new()),
        }
    }

    /// Instances as they change in this process (a lagging receiver misses
    /// some and should re-read the states it cares about).
    pub fn subscribe(&self) -> broadcast::Receiver<InstanceId> {
        self.changes.subscribe()
    }

    /// Instances as they reach a final status in this process, with it (a
    /// lagging receiver misses some, as with [`Engine::subscribe`]).
    pub fn subscribe_finished(&self) -> broadcast::Receiver<(InstanceId, InstanceStatus)> {
        self.finished.subscribe()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn definitions(&self) -> &DefinitionRegistry {
        &self.definitions
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}
