//! Domain events to stored records and back. Old shapes are upcast as JSON
//! before they are deserialised; a stored event is never rewritten.

use domain::instance::Event;
use serde_json::Value;

use crate::Error;
use crate::ports::{Metadata, NewEvent, RecordedEvent};

/// The record of an event; an event that cannot be written as JSON is an
/// [`Error::Internal`], never stored as `null`.
pub fn encode(event: &Event, metadata: Metadata) -> Result<NewEvent, Error> {
    Ok(NewEvent {
        event_type: event.name().to_owned(),
        schema_version: event.schema_version(),
        data: serde_json::to_value(event).map_err(|error| {
            Error::internal(format!("{} cannot be written as JSON", event.name()), error)
        })?,
        metadata,
    })
}

pub fn decode(record: &RecordedEvent) -> Result<Event, Error> {
    let data = upcast(
        &record.event_type,
        record.schema_version,
        record.data.clone(),
    );
    serde_json::from_value(data).map_err(|error| Error::Corrupt {
        position: record.position,
        reason: format!("{} v{}: {error}", record.event_type, record.schema_version),
    })
}

/// Brings an old event shape to the current one. Every event is at its first
/// version today; a changed shape adds a `(type, version)` arm here.
fn upcast(_event_type: &str, _schema_version: u32, data: Value) -> Value {
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use domain::StepId;
    use serde_json::json;

    #[test]
    fn round_trips_an_event() {
        let event = Event::StepCompleted {
            step: StepId::from("a"),
            attempt: 2,
            output: json!({"x": 1}),
        };
        let metadata = Metadata {
            event_id: uuid::Uuid::nil(),
            occurred_at: Utc::now(),
            correlation_id: uuid::Uuid::nil(),
            causation_id: None,
            actor: "test".into(),
            traceparent: None,
        };
        let new = encode(&event, metadata.clone()).unwrap();
        assert_eq!(new.event_type, "StepCompleted");
        let record = RecordedEvent {
            position: 1,
            transaction: 0,
            stream_id: domain::InstanceId(uuid::Uuid::nil()),
            version: 1,
            event_type: new.event_type,
            schema_version: new.schema_version,
            data: new.data,
            metadata,
            recorded_at: Utc::now(),
        };
        assert_eq!(decode(&record).unwrap(), event);
        let broken = RecordedEvent {
            data: json!({"type": "StepCompleted"}),
            ..record
        };
        assert!(matches!(
            decode(&broken),
            Err(Error::Corrupt { position: 1, .. })
        ));
    }
}
