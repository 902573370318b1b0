//! The outbox and timers of the PostgreSQL store: claimed with
//! `FOR UPDATE SKIP LOCKED` under a lease, so several nodes share them.

use std::time::Duration;

use application::Error;
use application::ports::{DueTimer, OutboxMessage, OutboxQueue, PendingMessage, TimerQueue};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Timer;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgEventStore, database, unreadable, unwritable};

/// Leases due timers nobody holds: `$1` now, `$2` the lease's end, `$3` how many.
const CLAIM_TIMERS: &str = "update timers set locked_until = $2
    where id in (
        select id from timers
        where due_at <= $1 and (locked_until is null or locked_until < $1)
        order by due_at limit $3
        for update skip locked)
    returning id, instance_id, timer, due_at";

/// Leases outbox rows nobody holds, oldest first: the parameters as above.
const CLAIM_OUTBOX: &str = "update outbox set locked_until = $2
    where id in (
        select id from outbox
        where locked_until is null or locked_until < $1
        order by id limit $3
        for update skip locked)
    returning id, queue, payload, priority";

impl PgEventStore {
    /// The rows a claim statement leased to the caller until `now + lease`,
    /// each read by `read`.
    async fn claim<T>(
        &self,
        statement: &'static str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        read: fn(&PgRow) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let until =
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        sqlx::query(statement)
            .bind(now)
            .bind(until)
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await
            .map_err(database)?
            .iter()
            .map(read)
            .collect()
    }

    /// Runs a delete of rows by id (`$1` the ids).
    async fn delete(&self, statement: &'static str, ids: &[i64]) -> Result<(), Error> {
        sqlx::query(statement)
            .bind(ids)
            .execute(self.pool())
            .await
            .map_err(database)?;
        Ok(())
    }
}

fn due_timer(row: &PgRow) -> Result<DueTimer, Error> {
    let id: i64 = row.try_get("id").map_err(database)?;
    let timer: Value = row.try_get("timer").map_err(database)?;
    Ok(DueTimer {
        id,
        instance: InstanceId(row.try_get("instance_id").map_err(database)?),
        timer: serde_json::from_value(timer)
            .map_err(|error| unreadable(format!("timers.timer of timer {id}"), error))?,
        due_at: row.try_get("due_at").map_err(database)?,
    })
}

fn pending_message(row: &PgRow) -> Result<PendingMessage, Error> {
    Ok(PendingMessage {
        id: row.try_get("id").map_err(database)?,
        message: OutboxMessage {
            queue: row.try_get("queue").map_err(database)?,
            payload: row.try_get("payload").map_err(database)?,
            priority: row
                .try_get::<i16, _>("priority")
                .map_err(database)?
                .clamp(0, 255) as u8,
        },
    })
}

impl TimerQueue for PgEventStore {
    async fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<DueTimer>, Error> {
        self.claim(CLAIM_TIMERS, now, lease, limit, due_timer).await
    }

    async fn complete_timers(&self, ids: &[i64]) -> Result<(), Error> {
        self.delete("delete from timers where id = any($1)", ids)
            .await
    }

    async fn reschedule_timer(
        &self,
        instance: InstanceId,
        timer: &Timer,
        due_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let timer = serde_json::to_value(timer).map_err(|error| unwritable("a timer", error))?;
        let moved =
            sqlx::query("update timers set due_at = $3 where instance_id = $1 and timer = $2")
                .bind(instance.0)
                .bind(timer)
                .bind(due_at)
                .execute(self.pool())
                .await
                .map_err(database)?;
        Ok(moved.rows_affected() > 0)
    }

    async fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, Error> {
        sqlx::query_scalar("select min(due_at) from timers")
            .fetch_one(self.pool())
            .await
            .map_err(database)
    }
}

impl OutboxQueue for PgEventStore {
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<PendingMessage>, Error> {
        let mut messages = self
            .claim(CLAIM_OUTBOX, now, lease, limit, pending_message)
            .await?;
        messages.sort_by_key(|pending| pending.id);
        Ok(messages)
    }

    async fn complete_outbox(&self, ids: &[i64]) -> Result<(), Error> {
        self.delete("delete from outbox where id = any($1)", ids)
            .await
    }
}
