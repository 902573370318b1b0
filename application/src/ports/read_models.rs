//! The read models: tables projected from the global log for the API to
//! query, and the stored workflow definitions every node loads.
//!
//! The projector writes a batch of changes and its checkpoint in one
//! transaction; a writer that finds the checkpoint moved (another node got
//! there first) or the projection held elsewhere writes nothing.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use serde::Serialize;
use serde_json::Value;

use crate::Error;
use crate::projection::Change;

/// What a projection writer did with a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Rows and checkpoint written.
    Applied,
    /// Another node is projecting right now; nothing written.
    Busy,
    /// The checkpoint is not where the batch was read from; nothing written.
    Moved,
}

/// Changes read from the log after `after`, up to `through`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionBatch {
    pub after: i64,
    pub through: i64,
    pub changes: Vec<Change>,
}

pub trait ProjectionWriter: Send + Sync {
    /// The position of the last event projected (0 before the first).
    fn checkpoint(&self) -> impl Future<Output = Result<i64, Error>> + Send;

    /// The position of the last event in the log visible now (0 when empty).
    fn log_head(&self) -> impl Future<Output = Result<i64, Error>> + Send;

    /// When the oldest event after the checkpoint was recorded; `None` when
    /// caught up. Not gap-safe (it sees past transactions still running): an
    /// age for the lag, never a position to read from.
    fn oldest_unprojected(
        &self,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>, Error>> + Send;

    /// Writes the batch's rows and moves the checkpoint to `through`, in one
    /// transaction, only if the checkpoint is at `after` and no other node
    /// holds the projection.
    fn apply(
        &self,
        batch: &ProjectionBatch,
    ) -> impl Future<Output = Result<ApplyOutcome, Error>> + Send;

    /// Empties the projected tables and sets the checkpoint back to 0, in one
    /// transaction (waiting for a projector that holds them to finish).
    fn reset(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records a worker's reported progress (0–100) on a running step. Not
    /// an event: live only, lost on a rebuild.
    fn record_progress(
        &self,
        instance: InstanceId,
        step: &str,
        progress: u8,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A workflow instance as the read model holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowRow {
    pub id: InstanceId,
    pub definition: String,
    pub version: u32,
    pub status: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub started_by: String,
    /// Steps scheduled, running or waiting.
    pub current_steps: Vec<String>,
    pub failed_steps: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A step of an instance as the read model holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRow {
    pub step: String,
    /// Its place in the definition's (topological) order.
    pub position: u32,
    pub kind: String,
    pub status: String,
    pub attempt: u32,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// When it completed, failed or was skipped.
    pub finished_at: Option<DateTime<Utc>>,
    pub worker: Option<String>,
    pub last_error: Option<String>,
    pub output: Option<Value>,
    pub progress: Option<u8>,
    /// Where its compensation stands, once one was scheduled.
    pub compensation: Option<String>,
}

impl StepRow {
    /// Why it failed, while it is failed: its last attempt's error (which
    /// stays in `last_error` after a retry succeeded).
    pub fn error(&self) -> Option<&str> {
        (self.status == "failed")
            .then_some(self.last_error.as_deref())
            .flatten()
    }
}

/// Which instances to list; every field narrows the list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkflowFilter {
    pub status: Option<String>,
    pub definition: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Only instances older than this one (ids are time-ordered): the cursor.
    pub before_id: Option<InstanceId>,
    pub limit: u32,
}

/// Counts and durations of one definition's instances or of one step.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DurationStats {
    pub count: u64,
    pub mean_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusCount {
    pub definition: String,
    pub status: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DefinitionDurations {
    pub definition: String,
    /// Finished instances: from start to their final state.
    pub durations: DurationStats,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepDurations {
    pub definition: String,
    pub step: String,
    /// Completed steps: from scheduled to completed (last attempt).
    pub durations: DurationStats,
}

/// Where a step's time goes: waiting for a worker versus running.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bottleneck {
    pub definition: String,
    pub step: String,
    pub samples: u64,
    /// Mean time from scheduled to started.
    pub mean_waiting_ms: f64,
    /// Mean time from started to finished.
    pub mean_running_ms: f64,
}

pub trait ReadModelQueries: Send + Sync {
    fn workflow(
        &self,
        id: InstanceId,
    ) -> impl Future<Output = Result<Option<WorkflowRow>, Error>> + Send;

    /// The steps of an instance, in definition order.
    fn steps(&self, id: InstanceId) -> impl Future<Output = Result<Vec<StepRow>, Error>> + Send;

    /// Instances, newest first.
    fn workflows(
        &self,
        filter: &WorkflowFilter,
    ) -> impl Future<Output = Result<Vec<WorkflowRow>, Error>> + Send;

    fn status_counts(&self) -> impl Future<Output = Result<Vec<StatusCount>, Error>> + Send;

    fn definition_durations(
        &self,
    ) -> impl Future<Output = Result<Vec<DefinitionDurations>, Error>> + Send;

    fn step_durations(&self) -> impl Future<Output = Result<Vec<StepDurations>, Error>> + Send;

    /// Steps by total time spent, the largest first.
    fn bottlenecks(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Bottleneck>, Error>> + Send;
}

/// A deployed definition's source, as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredDefinition {
    pub name: String,
    pub version: u32,
    pub hash: String,
    pub description: Option<String>,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

pub trait DefinitionStore: Send + Sync {
    /// Stores a definition unless one with its name and version is stored
    /// already; returns the hash stored under them. Whether another hash
    /// may stand there is the catalogue's rule
    /// ([`crate::definitions::unchanged`]), not the store's.
    fn save_definition(
        &self,
        definition: &StoredDefinition,
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// Every stored definition, by name then version.
    fn definitions(&self) -> impl Future<Output = Result<Vec<StoredDefinition>, Error>> + Send;

    fn definition(
        &self,
        name: &str,
        version: u32,
    ) -> impl Future<Output = Result<Option<StoredDefinition>, Error>> + Send;
}

/// `Idempotency-Key`s of start requests: the instance each one started and
/// a fingerprint of the request it came with.
pub trait IdempotencyKeys: Send + Sync {
    /// Records `key` for `instance` unless it was recorded before; returns
    /// the instance and fingerprint recorded under the key (the given ones
    /// when new).
    fn claim_key(
        &self,
        key: &str,
        instance: InstanceId,
        fingerprint: &str,
    ) -> impl Future<Output = Result<(InstanceId, String), Error>> + Send;

    /// Forgets a key whose start was refused, so a corrected request may use it.
    fn release_key(&self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;
}
