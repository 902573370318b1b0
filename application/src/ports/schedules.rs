//! Where schedules are kept, with the state of their rounds: the first tick
//! not handled yet, a tick buffered behind a running workflow, the last
//! workflow started. Rounds are claimed under a lease so that one node at a
//! time handles a schedule; a node that dies mid-round loses its lease, and
//! the next node redoes the round (its starts are idempotent per tick).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::schedule::OverlapPolicy;
use serde_json::Value;

use crate::Error;

/// A schedule as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleRecord {
    pub name: String,
    pub definition: String,
    /// The definition's version; the latest at each tick when absent.
    pub version: Option<u32>,
    pub input: Value,
    pub cron: String,
    pub timezone: String,
    pub overlap: OverlapPolicy,
    pub catchup_window: Duration,
    pub paused: bool,
    /// The first tick not handled yet; none for a cron that fires no more.
    pub next_due: Option<DateTime<Utc>>,
    pub buffered: Option<DateTime<Utc>>,
    pub last_instance: Option<InstanceId>,
    pub last_tick: Option<DateTime<Utc>>,
    /// Ticks dropped as older than the catch-up window, in all.
    pub missed: u64,
    /// `api`, or `definition` for one declared by a definition's `schedules:`.
    pub origin: String,
    pub created_at: DateTime<Utc>,
    /// Until when the node that claimed the round holds it; also the
    /// round's token when it is finished.
    pub lease_until: Option<DateTime<Utc>>,
}

/// What a round leaves behind.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundOutcome {
    pub next_due: Option<DateTime<Utc>>,
    pub buffered: Option<DateTime<Utc>>,
    pub last_instance: Option<InstanceId>,
    pub last_tick: Option<DateTime<Utc>>,
    /// Ticks this round dropped.
    pub missed: u64,
}

pub trait ScheduleStore: Send + Sync {
    /// Stores a new schedule; false when one of that name exists.
    fn insert_schedule(
        &self,
        schedule: &ScheduleRecord,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Stores a schedule declared by a definition: a new one, or the new
    /// settings of one of that name (its round state kept unless the cron
    /// or time zone changed, when `next_due` is the one given).
    fn upsert_schedule(
        &self,
        schedule: &ScheduleRecord,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    fn schedule(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ScheduleRecord>, Error>> + Send;

    /// Every schedule, by name.
    fn schedules(&self) -> impl Future<Output = Result<Vec<ScheduleRecord>, Error>> + Send;

    /// False when there was no such schedule.
    fn delete_schedule(&self, name: &str) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Pauses or resumes; a resumed schedule goes on from `next_due`.
    /// False when there was no such schedule.
    fn set_schedule_paused(
        &self,
        name: &str,
        paused: bool,
        next_due: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Claims up to `limit` schedules that are not paused, have a tick due
    /// at `now` or a tick buffered (it starts once the previous workflow
    /// ended), and are not leased by another node; leases them until
    /// `now + lease`.
    fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ScheduleRecord>, Error>> + Send;

    /// Records a round and frees the lease, if `lease_until` still holds it
    /// (false when another node took the schedule over).
    fn finish_schedule_round(
        &self,
        name: &str,
        lease_until: DateTime<Utc>,
        outcome: &RoundOutcome,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
}
