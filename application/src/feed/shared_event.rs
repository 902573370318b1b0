//! An event as the feed hands it to every subscriber, with its wire form
//! computed once.

use std::sync::Arc;

use crate::ports::RecordedEvent;

/// An event as the feed hands it to every subscriber: shared, with its wire
/// form computed once, by the first subscriber that sends it, instead of
/// once per subscriber.
pub struct SharedEvent {
    event: RecordedEvent,
    encoded: std::sync::OnceLock<Arc<str>>,
}

impl SharedEvent {
    pub fn new(event: RecordedEvent) -> Self {
        Self {
            event,
            encoded: std::sync::OnceLock::new(),
        }
    }

    /// The event's wire form: `encode`'s, the first time it is asked for.
    /// Every caller must encode the same way (one feed, one wire format).
    pub fn encoded(&self, encode: impl FnOnce(&RecordedEvent) -> String) -> Arc<str> {
        self.encoded
            .get_or_init(|| encode(&self.event).into())
            .clone()
    }
}

impl std::ops::Deref for SharedEvent {
    type Target = RecordedEvent;

    fn deref(&self) -> &RecordedEvent {
        &self.event
    }
}

impl std::fmt::Debug for SharedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.event.fmt(f)
    }
}

impl PartialEq for SharedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event
    }
}
