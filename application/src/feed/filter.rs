//! What a subscriber wants from the feed.

use std::collections::HashSet;

use domain::InstanceId;

use crate::Error;
use crate::ports::{EventStore, RecordedEvent};

use super::definitions::DefinitionIndex;

/// Every given criterion must hold; none given passes every event.
#[derive(Clone, Debug, Default)]
pub struct FeedFilter {
    pub workflow: Option<InstanceId>,
    pub definition: Option<String>,
    /// Event types (`StepCompleted`, ...); empty passes every type.
    pub types: HashSet<String>,
}

impl FeedFilter {
    pub(super) async fn matches<S: EventStore>(
        &self,
        event: &RecordedEvent,
        store: &S,
        definitions: &DefinitionIndex,
    ) -> Result<bool, Error> {
        if self.workflow.is_some_and(|id| id != event.stream_id) {
            return Ok(false);
        }
        if !self.types.is_empty() && !self.types.contains(&event.event_type) {
            return Ok(false);
        }
        match &self.definition {
            None => Ok(true),
            Some(wanted) => {
                definitions.learn(event);
                let name = definitions.definition_of(store, event.stream_id).await?;
                Ok(name.is_some_and(|name| &*name == wanted))
            }
        }
    }
}
