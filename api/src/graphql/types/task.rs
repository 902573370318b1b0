//! What a worker's report over GraphQL answers.

use async_graphql::SimpleObject;

/// The events a worker's report caused.
#[derive(Debug, SimpleObject)]
pub(crate) struct TaskReport {
    pub(crate) task_id: String,
    /// Event types, in order (`StepCompleted`, `StepRetryScheduled`, ...).
    pub(crate) events: Vec<String>,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct Heartbeat {
    pub(crate) task_id: String,
    pub(crate) progress: Option<u8>,
}
