//! Events from the log: a workflow's history and the live feed.

use application::ports::RecordedEvent;
use async_graphql::{ID, Json, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Clone, Debug, SimpleObject)]
pub(crate) struct Event {
    /// Its position in the global log: what `after` resumes a subscription from.
    position: i64,
    workflow_id: ID,
    /// Its position in the workflow's stream, from 1.
    version: u64,
    #[graphql(name = "type")]
    kind: String,
    data: Json<Value>,
    /// Who caused it: the caller of the command, a worker, the engine.
    actor: String,
    correlation_id: ID,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
}

impl From<&RecordedEvent> for Event {
    fn from(record: &RecordedEvent) -> Self {
        Self {
            position: record.position,
            workflow_id: ID(record.stream_id.to_string()),
            version: record.version,
            kind: record.event_type.clone(),
            data: Json(record.data.clone()),
            actor: record.metadata.actor.clone(),
            correlation_id: ID(record.metadata.correlation_id.to_string()),
            occurred_at: record.metadata.occurred_at,
            recorded_at: record.recorded_at,
        }
    }
}

/// A page of a workflow's history.
#[derive(Debug, SimpleObject)]
pub(crate) struct EventPage {
    items: Vec<Event>,
    /// The `after` of the next page (a stream version); null on the last.
    next_after: Option<u64>,
}

impl EventPage {
    pub(crate) fn new(records: &[RecordedEvent], next_after: Option<u64>) -> Self {
        Self {
            items: records.iter().map(Event::from).collect(),
            next_after,
        }
    }
}
