//! The row changes the projection makes of events: what a projection
//! writer applies to the read models.

use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde_json::Value;

/// A step row created when its instance starts.
#[derive(Clone, Debug, PartialEq)]
pub struct NewStep {
    pub step: String,
    pub position: u32,
    pub kind: String,
}

/// A change to one instance's rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub instance: InstanceId,
    /// When the event occurred; the instance's `updated_at`.
    pub at: DateTime<Utc>,
    pub kind: ChangeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ChangeKind {
    Started {
        definition: String,
        version: u32,
        input: Value,
        started_by: String,
        steps: Vec<NewStep>,
    },
    /// The instance moved to a non-final status.
    Status(&'static str),
    /// Back to running after an operator's retry or skip: clears the error
    /// and the end time. With `only_if_failed`, only a failed instance.
    Revived {
        only_if_failed: bool,
    },
    Finished {
        status: &'static str,
        output: Option<Value>,
        error: Option<String>,
    },
    /// An event that changes no row but the instance's `updated_at`.
    Touched,
    Step {
        step: String,
        change: StepChange,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum StepChange {
    /// A new attempt: `scheduled` (or `waiting` on a timer), its stage times reset.
    Scheduled {
        attempt: u32,
        waiting: bool,
    },
    Started {
        worker: String,
    },
    Completed {
        attempt: u32,
        output: Value,
    },
    Failed {
        attempt: u32,
        error: String,
    },
    /// Waiting for the backoff before the next attempt.
    RetryScheduled,
    Skipped {
        output: Option<Value>,
    },
    /// An operator asked for it to run again: back to pending.
    RetryRequested,
    /// Waiting for a person's decision or a signal.
    Waiting {
        attempt: u32,
    },
    /// Where its compensation stands.
    Compensation(&'static str),
}
