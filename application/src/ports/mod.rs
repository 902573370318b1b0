//! Ports: what the use cases need from the outside world, as traits the
//! infrastructure implements.

mod event_store;

pub use event_store::{
    AppendOutcome, AppendRequest, EventStore, Metadata, NewEvent, OutboxMessage, RecordedEvent,
    ScheduledTimer,
};
