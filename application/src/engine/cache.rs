//! Instances loaded through a cache of folded states: a state is read from
//! its stream once, then kept up to date by the appends of this node; a
//! state another node moved on is found out by a conflicting append.

use std::collections::HashMap;
use std::sync::Arc;

use domain::instance::{Event, WorkflowInstance, evolve};
use domain::{InstanceId, WorkflowDefinition};

use super::Engine;
use crate::Error;
use crate::codec::decode;
use crate::ports::{EventStore, RecordedEvent};
use crate::trace::TraceParent;

/// A folded state and the trace its instance belongs to.
#[derive(Clone, Debug)]
pub(super) struct Cached {
    pub(super) state: WorkflowInstance,
    pub(super) trace: TraceParent,
}

impl<S> Engine<S> {
    pub(super) fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: EventStore> Engine<S> {
    /// The current state of an instance.
    pub async fn state(&self, id: InstanceId) -> Result<WorkflowInstance, Error> {
        Ok(self.load(id).await?.state)
    }

    /// The current state of an instance and its trace (read from its start).
    pub(super) async fn load(&self, id: InstanceId) -> Result<Cached, Error> {
        let cached = self.lock_cache().get(&id).cloned();
        let after = cached.as_ref().map_or(0, |cached| cached.state.version);
        let records = self.store.load(id, after).await?;
        let mut cached = match cached {
            Some(cached) => cached,
            None => {
                let first = records.first().ok_or_else(|| Error::NotFound {
                    what: format!("workflow {id}"),
                })?;
                Cached {
                    state: WorkflowInstance::new(id, self.definition_of(&decode(first)?)?),
                    trace: trace_of(first),
                }
            }
        };
        for record in &records {
            cached.state = evolve(cached.state, &decode(record)?);
        }
        self.remember(cached.clone());
        Ok(cached)
    }

    pub(super) fn definition_of(&self, started: &Event) -> Result<Arc<WorkflowDefinition>, Error> {
        let Event::WorkflowStarted {
            definition,
            version,
            hash,
            ..
        } = started
        else {
            return Err(Error::Invalid {
                reason: "a stream must begin with WorkflowStarted".to_owned(),
            });
        };
        let found = self.definitions.get(definition, Some(*version))?;
        if &found.hash != hash {
            return Err(Error::Invalid {
                reason: format!(
                    "{definition} version {version} here differs from the one the workflow started with"
                ),
            });
        }
        Ok(found)
    }

    pub(super) fn remember(&self, cached: Cached) {
        let mut cache = self.lock_cache();
        let id = cached.state.id;
        if cached.state.status.is_final() {
            cache.remove(&id);
            return;
        }
        if cache.len() >= self.cache_capacity && !cache.contains_key(&id) {
            cache.clear();
        }
        cache.insert(id, cached);
    }

    pub(super) fn forget(&self, id: InstanceId) {
        self.lock_cache().remove(&id);
    }
}

/// The trace an instance's first event names; an instance started before
/// traces were stored gets one derived from its id.
fn trace_of(first: &RecordedEvent) -> TraceParent {
    first
        .metadata
        .traceparent
        .as_deref()
        .and_then(TraceParent::parse)
        .unwrap_or_else(|| TraceParent::derived_from(first.stream_id.0, first.metadata.event_id))
}
