//! The event store: one append-only stream per instance, and the global log.
//!
//! An append writes the events, the outbox messages they dispatch and the
//! timers they set in one transaction, with an expected version: either all
//! of it lands or none of it does.

use std::future::Future;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Timer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Error;

/// Who and what caused an event; stored beside it, never part of the rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub event_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The request or start that this chain of events belongs to.
    pub correlation_id: Uuid,
    /// The message or command that caused this event, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    pub actor: String,
    /// The W3C `traceparent` of the command that decided this event: its
    /// trace is the workflow's (see `crate::trace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// An event ready to be stored: its encoded form and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub schema_version: u32,
    pub data: Value,
    pub metadata: Metadata,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// Position in the global log (its identity; see [`Self::read_order`]).
    pub position: i64,
    /// The writing transaction where the store has several writers
    /// (PostgreSQL's `xid8`); 0 where one writer keeps positions in commit
    /// order (SQLite).
    pub transaction: u64,
    pub stream_id: InstanceId,
    /// 1-based position in its stream.
    pub version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub data: Value,
    pub metadata: Metadata,
    pub recorded_at: DateTime<Utc>,
}

impl RecordedEvent {
    /// Where the event sorts in the order the global log is read in (see
    /// [`EventStore::read_all`]): by writing transaction, then position.
    pub fn read_order(&self) -> (u64, i64) {
        (self.transaction, self.position)
    }
}

/// A message for the relay to publish to the bus.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxMessage {
    /// The task queue name (routing key), e.g. `payments`.
    pub queue: String,
    pub payload: Value,
    pub priority: u8,
}

/// A due time to wake an instance at.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledTimer {
    pub instance: InstanceId,
    pub timer: Timer,
    pub due_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppendRequest {
    pub stream_id: InstanceId,
    /// The stream's version the events were decided on (0 for a new stream).
    pub expected_version: u64,
    pub events: Vec<NewEvent>,
    pub outbox: Vec<OutboxMessage>,
    pub timers: Vec<ScheduledTimer>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The stream's version after the append.
    pub version: u64,
    /// Global position of the last event appended.
    pub last_position: i64,
    /// The ids of the outbox rows written, in the order of the request's
    /// messages; empty if the store could not tell them apart (the rows are
    /// then published by whoever claims them once their lease ran out).
    pub outbox_ids: Vec<i64>,
}

/// Outbox rows are written leased to their appender for this long: it
/// publishes them itself, straight after the append, without claiming them;
/// `claim_outbox` finds them only if that lease runs out (the appender died
/// or could not publish).
pub const APPENDED_OUTBOX_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

pub trait EventStore: Send + Sync {
    /// Appends in one transaction; [`Error::Conflict`] when the stream is not
    /// at `expected_version`, in which case nothing is written.
    fn append(
        &self,
        request: AppendRequest,
    ) -> impl Future<Output = Result<AppendOutcome, Error>> + Send;

    /// Appends to several streams in one transaction where the store can: each
    /// request is checked against its own expected version, and a request
    /// whose stream moved on is refused with [`Error::Conflict`] while the
    /// others land. An outer error means nothing was written; an inner one
    /// concerns its request only (the default appends one by one). Outcomes
    /// come back in the order of the requests; a stream appears only once.
    fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> impl Future<Output = Result<Vec<Result<AppendOutcome, Error>>, Error>> + Send {
        async move {
            let mut outcomes = Vec::with_capacity(requests.len());
            for request in requests {
                outcomes.push(self.append(request).await);
            }
            Ok(outcomes)
        }
    }

    /// A stream's events from `after_version` on, in order.
    fn load(
        &self,
        stream_id: InstanceId,
        after_version: u64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// The global log after the event at `after_position`, at most `limit`
    /// events, in the log's read order. Never skips an event whose
    /// transaction commits after a later one was read: it returns only
    /// events below every transaction still running, in an order where what
    /// becomes readable later sorts after everything read before. That order
    /// is commit-safe rather than strictly by position (PostgreSQL: by
    /// writing transaction, then position; SQLite, one writer: by position),
    /// so a reader resumes after the last event it was given, never after
    /// the highest position it saw.
    fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;
}
