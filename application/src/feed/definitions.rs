//! Which definition each workflow runs, for the feed's definition filter:
//! learnt from the `WorkflowStarted` events the tail sees, looked up in the
//! stream's first event for workflows started before this node's tail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::InstanceId;

use crate::Error;
use crate::ports::{EventStore, RecordedEvent};

/// Entries kept before the index starts over (a miss costs one stream read).
const CAPACITY: usize = 100_000;

#[derive(Debug, Default)]
pub struct DefinitionIndex {
    names: Mutex<HashMap<InstanceId, Arc<str>>>,
}

impl DefinitionIndex {
    pub fn learn(&self, event: &RecordedEvent) {
        if let Some(name) = started_definition(event) {
            self.insert(event.stream_id, name.into());
        }
    }

    /// The definition of a workflow, if its stream exists.
    pub async fn definition_of<S: EventStore>(
        &self,
        store: &S,
        stream: InstanceId,
    ) -> Result<Option<Arc<str>>, Error> {
        if let Some(name) = self.lock().get(&stream) {
            return Ok(Some(name.clone()));
        }
        let first = store.load(stream, 0).await?;
        let name: Option<Arc<str>> = first.first().and_then(started_definition).map(Arc::from);
        if let Some(name) = &name {
            self.insert(stream, name.clone());
        }
        Ok(name)
    }

    fn insert(&self, stream: InstanceId, name: Arc<str>) {
        let mut names = self.lock();
        if names.len() >= CAPACITY {
            names.clear();
        }
        names.insert(stream, name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InstanceId, Arc<str>>> {
        self.names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn started_definition(event: &RecordedEvent) -> Option<&str> {
    (event.event_type == "WorkflowStarted")
        .then(|| event.data.get("definition")?.as_str())
        .flatten()
}
