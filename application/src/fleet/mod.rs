//! The fleet: the workers serving the queues. Workers announce themselves
//! (hello, a heartbeat every [`HEARTBEAT_INTERVAL`], goodbye) over the bus,
//! or are seen by their HTTP polls; the engine keeps one record per worker
//! in the [`WorkerRegistry`](crate::ports::WorkerRegistry) and can ask a
//! worker to drain. The wire format is in `docs/worker-protocol.md`.

mod announcer;
mod presence;
mod record;
mod recorder;
mod tally;
mod workers;

pub use announcer::{Announcer, Identity};
pub use presence::{PresenceKind, WorkerPresence, WorkerSignal};
pub use record::{HEARTBEAT_INTERVAL, OFFLINE_AFTER, Transport, WorkerRecord, WorkerStatus};
pub use recorder::PresenceRecorder;
pub use tally::{Drain, Tally};
pub use workers::{
    DrainOutcome, drain, list, poll_seen, record_presence, show, task_reported, task_taken,
};
