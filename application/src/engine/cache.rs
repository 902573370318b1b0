//! Instances loaded through a cache of folded states: a state is read from
//! its stream once, then kept up to date by the appends of this node; a
//! state another node moved on is found out by a conflicting append. The
//! cache is bounded and evicts the least recently used states one by one
//! (an evicted instance is reloaded from its stream at its next command),
//! so thousands of instances waiting for days at an approval do not push
//! out the ones in flight; it is a concurrent map, no lock shared by every
//! command.

use std::sync::Arc;

use domain::instance::{Event, WorkflowInstance, evolve};
use domain::{InstanceId, WorkflowDefinition};
use moka::policy::EvictionPolicy;

use super::Engine;
use crate::Error;
use crate::codec::decode;
use crate::ports::{EventStore, RecordedEvent};
use crate::trace::TraceParent;

/// Folded states kept per node. An order saga's state is a few kilobytes:
/// this bounds the cache to some tens of megabytes.
pub(super) const CAPACITY: u64 = 10_000;

/// A folded state and the trace its instance belongs to.
#[derive(Clone, Debug)]
pub(super) struct Cached {
    pub(super) state: WorkflowInstance,
    pub(super) trace: TraceParent,
}

/// The states of the instances this node worked on lately.
pub(super) struct StateCache(moka::sync::Cache<InstanceId, Cached>);

impl StateCache {
    pub(super) fn new(capacity: u64) -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
        )
    }

    pub(super) fn get(&self, id: &InstanceId) -> Option<Cached> {
        self.0.get(id)
    }

    /// Keeps the state of an instance in progress; a final one is dropped.
    pub(super) fn remember(&self, cached: Cached) {
        let id = cached.state.id;
        if cached.state.status.is_final() {
            self.0.invalidate(&id);
        } else {
            self.0.insert(id, cached);
        }
    }

    pub(super) fn forget(&self, id: InstanceId) {
        self.0.invalidate(&id);
    }

    /// How many states it holds (approximately: evictions run lazily).
    pub(super) fn entry_count(&self) -> u64 {
        self.0.entry_count()
    }
}

impl<S: EventStore> Engine<S> {
    /// The current state of an instance.
    pub async fn state(&self, id: InstanceId) -> Result<WorkflowInstance, Error> {
        Ok(self.load(id).await?.state)
    }

    /// The current state of an instance and its trace (read from its start).
    pub(super) async fn load(&self, id: InstanceId) -> Result<Cached, Error> {
        let cached = self.cache.get(&id);
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
        self.cache.remember(cached.clone());
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

#[cfg(test)]
mod tests {
    use domain::instance::InstanceStatus;
    use uuid::Uuid;

    use super::*;

    fn definition() -> Arc<WorkflowDefinition> {
        let yaml = "name: w\nversion: 1\nsteps:\n  a: {type: noop}\n";
        Arc::new(domain::parse_workflow(yaml).unwrap())
    }

    fn cached(definition: &Arc<WorkflowDefinition>, status: InstanceStatus) -> Cached {
        let id = InstanceId(Uuid::now_v7());
        let mut state = WorkflowInstance::new(id, definition.clone());
        state.status = status;
        Cached {
            state,
            trace: TraceParent::derived_from(id.0, Uuid::nil()),
        }
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used_state_and_keeps_the_others() {
        let definition = definition();
        let cache = StateCache::new(3);
        let states: Vec<Cached> = (0..3)
            .map(|_| cached(&definition, InstanceStatus::Running))
            .collect();
        let ids: Vec<InstanceId> = states.iter().map(|cached| cached.state.id).collect();
        for state in states {
            cache.remember(state);
        }
        cache.0.run_pending_tasks();
        // The first is used again: the second is now the least recent.
        assert!(cache.get(&ids[0]).is_some());
        cache.0.run_pending_tasks();
        let newcomer = cached(&definition, InstanceStatus::Running);
        let newcomer_id = newcomer.state.id;
        cache.remember(newcomer);
        cache.0.run_pending_tasks();

        assert_eq!(
            cache.entry_count(),
            3,
            "one state evicted, not the whole cache"
        );
        assert!(cache.get(&ids[1]).is_none(), "the least recently used went");
        for kept in [ids[0], ids[2], newcomer_id] {
            assert!(cache.get(&kept).is_some(), "{kept:?} was evicted");
        }
    }

    #[test]
    fn a_final_state_is_not_kept() {
        let definition = definition();
        let cache = StateCache::new(10);
        let mut running = cached(&definition, InstanceStatus::Running);
        let id = running.state.id;
        cache.remember(running.clone());
        running.state.status = InstanceStatus::Completed;
        cache.remember(running);
        assert!(cache.get(&id).is_none());
    }
}
