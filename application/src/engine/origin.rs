//! Who asks, and what a request belongs to: the origin of a command, which
//! lands in each event's metadata, and a caller's commands for one instance.

use domain::InstanceId;
use domain::instance::Command;
use uuid::Uuid;

use crate::trace::TraceParent;

/// Who asks, and what the request belongs to; lands in each event's metadata.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub actor: String,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    /// The trace a start continues (an incoming `traceparent`); without
    /// one the start begins a new trace. Other commands join their
    /// instance's trace and ignore it.
    pub traceparent: Option<TraceParent>,
}

impl Origin {
    pub fn actor(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            ..Self::default()
        }
    }
}

/// Commands for one instance from one caller, stored together.
#[derive(Clone, Debug)]
pub struct Submission {
    pub instance: InstanceId,
    pub commands: Vec<Command>,
    pub origin: Origin,
}
