//! What a worker says about itself on the bus (`distorch.workers`), and
//! what the engine says to one worker (its control queue).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One presence message. Every message carries the whole picture, so an
/// engine that missed the hello learns everything from the next heartbeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerPresence {
    #[serde(rename = "type")]
    pub kind: PresenceKind,
    /// Chosen by the worker at start, unique (a UUID); the name of its
    /// control queue is `distorch.worker.<worker_id>`.
    pub worker_id: String,
    pub name: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub queues: Vec<String>,
    /// Tasks it runs at once.
    #[serde(default)]
    pub capacity: u32,
    /// The task ids it is running now.
    #[serde(default)]
    pub in_flight: Vec<String>,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
    /// It takes no new task (asked to drain, or shutting down).
    #[serde(default)]
    pub draining: bool,
    pub started_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceKind {
    Hello,
    Heartbeat,
    Goodbye,
}

/// What the engine asks of a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerSignal {
    /// Finish the running tasks, take no new one.
    Drain,
}
