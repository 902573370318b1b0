//! The outbox and timers of the SQLite store (one process: leases only
//! guard against two loops of the same process claiming a row twice).

use std::time::Duration;

use application::Error;
use application::ports::{DueTimer, OutboxMessage, OutboxQueue, PendingMessage, TimerQueue};
use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Timer;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{SqliteEventStore, database, unreadable, unwritable};

/// Leases due timers nobody holds: `?1` now, `?2` the lease's end, `?3` how many.
const CLAIM_TIMERS: &str = "update timers set locked_until = ?2
    where id in (
        select id from timers
        where due_at <= ?1 and (locked_until is null or locked_until < ?1)
        order by due_at limit ?3)
    returning id, instance_id, timer, due_at";

/// Leases outbox rows nobody holds, oldest first: the parameters as above.
const CLAIM_OUTBOX: &str = "update outbox set locked_until = ?2
    where id in (
        select id from outbox
        where locked_until is null or locked_until < ?1
        order by id limit ?3)
    returning id, queue, payload, priority";

pub(super) fn lease_end(now: DateTime<Utc>, lease: Duration) -> String {
    text(now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30)))
}

/// Times are stored as RFC 3339 in UTC with a fixed width, so text order is time order.
pub(super) fn text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl SqliteEventStore {
    /// The rows a claim statement leased to the caller until `now + lease`,
    /// each read by `read`.
    async fn claim<T>(
        &self,
        statement: &'static str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        read: fn(&SqliteRow) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(statement)
            .bind(text(now))
            .bind(lease_end(now, lease))
            .bind(limit as i64)
            .fetch_all(self.pool())
            .await
            .map_err(database)?
            .iter()
            .map(read)
            .collect()
    }

    /// Runs a delete of rows by id (`?1` the ids as a JSON array).
    async fn delete(&self, statement: &'static str, ids: &[i64]) -> Result<(), Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(statement)
            .bind(serde_json::Value::from(ids).to_string())
            .execute(self.pool())
            .await
            .map_err(database)?;
        Ok(())
    }
}

fn due_timer(row: &SqliteRow) -> Result<DueTimer, Error> {
    let id: i64 = row.try_get("id").map_err(database)?;
    let instance: String = row.try_get("instance_id").map_err(database)?;
    let timer: String = row.try_get("timer").map_err(database)?;
    let due_at: String = row.try_get("due_at").map_err(database)?;
    Ok(DueTimer {
        id,
        instance: InstanceId(
            Uuid::parse_str(&instance)
                .map_err(|e| unreadable(format!("timers.instance_id of {id}"), e))?,
        ),
        timer: serde_json::from_str(&timer)
            .map_err(|e| unreadable(format!("timers.timer of {id}"), e))?,
        due_at: DateTime::parse_from_rfc3339(&due_at)
            .map_err(|e| unreadable(format!("timers.due_at of {id}"), e))?
            .to_utc(),
    })
}

fn pending_message(row: &SqliteRow) -> Result<PendingMessage, Error> {
    let id: i64 = row.try_get("id").map_err(database)?;
    let payload: String = row.try_get("payload").map_err(database)?;
    Ok(PendingMessage {
        id,
        message: OutboxMessage {
            queue: row.try_get("queue").map_err(database)?,
            payload: serde_json::from_str(&payload)
                .map_err(|e| unreadable(format!("outbox.payload of {id}"), e))?,
            priority: row
                .try_get::<i64, _>("priority")
                .map_err(database)?
                .clamp(0, 255) as u8,
        },
    })
}

impl TimerQueue for SqliteEventStore {
    async fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<DueTimer>, Error> {
        self.claim(CLAIM_TIMERS, now, lease, limit, due_timer).await
    }

    async fn complete_timers(&self, ids: &[i64]) -> Result<(), Error> {
        self.delete(
            "delete from timers where id in (select value from json_each(?1))",
            ids,
        )
        .await
    }

    async fn reschedule_timer(
        &self,
        instance: InstanceId,
        timer: &Timer,
        due_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let _writing = self.writer.lock().await;
        // As the append stores it: through `Value`, whose key order is the text's.
        let timer = serde_json::to_value(timer)
            .map(|value| value.to_string())
            .map_err(|error| unwritable("a timer", error))?;
        let moved =
            sqlx::query("update timers set due_at = ?3 where instance_id = ?1 and timer = ?2")
                .bind(instance.0.to_string())
                .bind(timer)
                .bind(text(due_at))
                .execute(self.pool())
                .await
                .map_err(database)?;
        Ok(moved.rows_affected() > 0)
    }

    async fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, Error> {
        let due: Option<String> = sqlx::query_scalar("select min(due_at) from timers")
            .fetch_one(self.pool())
            .await
            .map_err(database)?;
        due.map(|due| {
            DateTime::parse_from_rfc3339(&due)
                .map(|due| due.to_utc())
                .map_err(|error| unreadable("timers.due_at", error))
        })
        .transpose()
    }
}

impl OutboxQueue for SqliteEventStore {
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
        self.delete(
            "delete from outbox where id in (select value from json_each(?1))",
            ids,
        )
        .await
    }
}
