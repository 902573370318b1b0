//! The outbox and the timers, as queues of rows that background loops claim
//! for a lease, act on, then complete. A node that dies holding a lease
//! loses it when it expires, so another node picks the row up: each row is
//! acted on at least once, and acting twice is harmless (publishing a task
//! twice is a duplicate the engine ignores; a stale timer decides nothing).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Timer;

use super::OutboxMessage;
use crate::Error;

#[derive(Clone, Debug, PartialEq)]
pub struct DueTimer {
    pub id: i64,
    pub instance: InstanceId,
    pub timer: Timer,
    pub due_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PendingMessage {
    pub id: i64,
    pub message: OutboxMessage,
}

pub trait TimerQueue: Send + Sync {
    /// Timers due at `now`, not leased by anyone, leased to the caller for `lease`.
    fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueTimer>, Error>> + Send;

    /// Removes fired timers.
    fn complete_timers(&self, ids: &[i64]) -> impl Future<Output = Result<(), Error>> + Send;

    /// Moves a timer to a new due time (a heartbeat pushing its deadline);
    /// false when there is no such timer (it fired or never existed).
    fn reschedule_timer(
        &self,
        instance: InstanceId,
        timer: &Timer,
        due_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// The earliest due time of any timer, leased or not, to sleep until.
    fn next_timer_due(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, Error>> + Send;
}

pub trait OutboxQueue: Send + Sync {
    /// Messages not leased by anyone, oldest first, leased to the caller.
    fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PendingMessage>, Error>> + Send;

    /// Removes published messages.
    fn complete_outbox(&self, ids: &[i64]) -> impl Future<Output = Result<(), Error>> + Send;
}
