//! The fleet's ports: where worker records are kept, and the bus's side
//! of presence (workers announcing themselves, the engine signalling one).
//! Object-safe: the API and the loops hold them behind `dyn`.

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::BoxFuture;
use crate::Error;
use crate::fleet::{WorkerPresence, WorkerRecord, WorkerSignal};

/// One record per worker, shared by every engine node.
pub trait WorkerRegistry: Send + Sync {
    /// Inserts or replaces a record; `draining` once set stays set.
    fn put<'a>(&'a self, record: &'a WorkerRecord) -> BoxFuture<'a, Result<(), Error>>;
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<WorkerRecord>, Error>>;
    /// Every record, by name then id.
    fn list(&self) -> BoxFuture<'_, Result<Vec<WorkerRecord>, Error>>;
    /// The worker whose tasks in flight hold `task_id`.
    fn holding<'a>(
        &'a self,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<WorkerRecord>, Error>>;
    /// Marks a worker draining; false when there is no such worker.
    fn mark_draining<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, Error>>;
    /// Deletes the records of workers last seen before `before`; how many.
    fn forget(&self, before: DateTime<Utc>) -> BoxFuture<'_, Result<u64, Error>>;
}

/// Presence on the bus.
pub trait WorkerChannel: Send + Sync {
    /// Sends a worker's presence to the engine nodes.
    fn announce<'a>(&'a self, presence: &'a WorkerPresence) -> BoxFuture<'a, Result<(), Error>>;
    /// The presence messages of every worker, for the engine node that
    /// records them (each message reaches one node).
    fn presences(&self) -> BoxFuture<'_, Result<mpsc::Receiver<WorkerPresence>, Error>>;
    /// Sends a signal to one worker; lost if the worker is gone.
    fn signal<'a>(
        &'a self,
        worker_id: &'a str,
        signal: WorkerSignal,
    ) -> BoxFuture<'a, Result<(), Error>>;
    /// The signals sent to `worker_id`, for as long as the receiver lives.
    fn signals<'a>(
        &'a self,
        worker_id: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<WorkerSignal>, Error>>;
}
