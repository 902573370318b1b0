//! The rows of the embedded mode's queues (`queue_messages`), in the store's
//! file and written in turn with it: a message is inserted when it is
//! published (committed before the publish returns, as a broker confirms),
//! deleted once acknowledged, and marked when dead-lettered. Deletes are
//! gathered and written together a moment later: a delete lost with the
//! process only makes the message come again (at least once).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use application::Error;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use tokio::sync::Notify;

use super::sqlite::Writer;
use super::sqlite_queues::text;
use super::{SqliteEventStore, database, unreadable};

/// How long an acknowledgement may wait to be written with others.
const DELETE_DELAY: Duration = Duration::from_millis(20);

/// Whether a row is a task or a worker's results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Task,
    Result,
}

impl RowKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Result => "result",
        }
    }
}

/// A message to store.
#[derive(Clone, Debug)]
pub struct NewQueueRow {
    /// The task queue ('' for results).
    pub queue: String,
    pub message_id: String,
    pub body: String,
    pub priority: u8,
    pub published_at: DateTime<Utc>,
}

/// A stored message, as read back when the node starts.
#[derive(Clone, Debug)]
pub struct QueueRow {
    pub id: i64,
    pub kind: RowKind,
    pub row: NewQueueRow,
    pub deliveries: u32,
    /// When and why it was dead-lettered.
    pub dead: Option<(DateTime<Utc>, String)>,
}

/// The queue rows of one SQLite file. Cheap to share (`Arc`); when the
/// last holder drops it, the deletes still waiting are written.
#[derive(Debug)]
pub struct SqliteQueueRows {
    pool: sqlx::SqlitePool,
    writer: Writer,
    deletes: Arc<Deletes>,
}

/// Acknowledged rows not deleted yet, shared with the task that deletes them.
#[derive(Debug, Default)]
struct Deletes {
    ids: Mutex<Vec<i64>>,
    wake: Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl Drop for SqliteQueueRows {
    fn drop(&mut self) {
        self.deletes
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.deletes.wake.notify_one();
    }
}

impl SqliteQueueRows {
    /// The rows of `store`'s file; a task of its own writes the deletes.
    pub fn new(store: &SqliteEventStore) -> Arc<Self> {
        let rows = Self {
            pool: store.pool().clone(),
            writer: store.writer.clone(),
            deletes: Arc::default(),
        };
        tokio::spawn(delete_acknowledged(
            rows.pool.clone(),
            rows.writer.clone(),
            rows.deletes.clone(),
        ));
        Arc::new(rows)
    }

    /// Every stored message, in publish order.
    pub async fn load(&self) -> Result<Vec<QueueRow>, Error> {
        sqlx::query(
            "select id, kind, queue, message_id, body, priority, published_at, deliveries,
                dead_at, dead_reason from queue_messages order by id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?
        .iter()
        .map(queue_row)
        .collect()
    }

    /// Stores messages in one transaction; their row ids, in order.
    pub async fn insert(&self, kind: RowKind, rows: &[NewQueueRow]) -> Result<Vec<i64>, Error> {
        let mut writing = self.writer.begin(&self.pool).await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = sqlx::query_scalar(
                "insert into queue_messages (kind, queue, message_id, body, priority, published_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6) returning id",
            )
            .bind(kind.as_str())
            .bind(&row.queue)
            .bind(&row.message_id)
            .bind(&row.body)
            .bind(i64::from(row.priority))
            .bind(text(row.published_at))
            .fetch_one(&mut *writing.tx)
            .await
            .map_err(database)?;
            ids.push(id);
        }
        writing.tx.commit().await.map_err(database)?;
        Ok(ids)
    }

    /// Deletes the row soon (with others).
    pub fn acknowledge(&self, id: i64) {
        lock(&self.deletes.ids).push(id);
        self.deletes.wake.notify_one();
    }

    /// Marks the row dead: kept, with when, why and how often it was delivered.
    pub async fn bury(
        &self,
        id: i64,
        deliveries: u32,
        dead_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), Error> {
        let _turn = self.writer.lock().await;
        sqlx::query(
            "update queue_messages set dead_at = ?2, dead_reason = ?3, deliveries = ?4 where id = ?1",
        )
        .bind(id)
        .bind(text(dead_at))
        .bind(reason)
        .bind(i64::from(deliveries))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        Ok(())
    }
}

/// Writes acknowledgements as they come, `DELETE_DELAY` apart at most
/// often, until the rows are dropped (then writes what is left).
async fn delete_acknowledged(pool: sqlx::SqlitePool, writer: Writer, deletes: Arc<Deletes>) {
    loop {
        deletes.wake.notified().await;
        let closed = deletes.closed.load(std::sync::atomic::Ordering::Acquire);
        if !closed {
            tokio::time::sleep(DELETE_DELAY).await;
        }
        if let Err(error) = flush(&pool, &writer, &deletes).await {
            tracing::warn!(error = %error.report(), "deleting acknowledged queue rows failed; retrying");
            tokio::time::sleep(DELETE_DELAY).await;
            deletes.wake.notify_one();
        } else if closed {
            return;
        }
    }
}

/// Writes the deletes gathered so far; on failure they wait for the next turn.
async fn flush(pool: &sqlx::SqlitePool, writer: &Writer, deletes: &Deletes) -> Result<(), Error> {
    let ids = std::mem::take(&mut *lock(&deletes.ids));
    if ids.is_empty() {
        return Ok(());
    }
    let _turn = writer.lock().await;
    let deleted =
        sqlx::query("delete from queue_messages where id in (select value from json_each(?1))")
            .bind(serde_json::Value::from(ids.as_slice()).to_string())
            .execute(pool)
            .await;
    if let Err(error) = deleted {
        lock(&deletes.ids).extend(ids);
        return Err(database(error));
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn time(id: i64, column: &str, value: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.to_utc())
        .map_err(|error| unreadable(format!("queue_messages.{column} of {id}"), error))
}

fn queue_row(row: &SqliteRow) -> Result<QueueRow, Error> {
    let id: i64 = row.try_get("id").map_err(database)?;
    let kind = match row.try_get::<String, _>("kind").map_err(database)?.as_str() {
        "task" => RowKind::Task,
        "result" => RowKind::Result,
        other => {
            return Err(unreadable(
                format!("queue_messages.kind of {id}"),
                format!("unknown kind {other:?}"),
            ));
        }
    };
    let published_at: String = row.try_get("published_at").map_err(database)?;
    let dead_at: Option<String> = row.try_get("dead_at").map_err(database)?;
    let dead = match dead_at {
        Some(at) => Some((
            time(id, "dead_at", &at)?,
            row.try_get::<Option<String>, _>("dead_reason")
                .map_err(database)?
                .unwrap_or_default(),
        )),
        None => None,
    };
    Ok(QueueRow {
        id,
        kind,
        row: NewQueueRow {
            queue: row.try_get("queue").map_err(database)?,
            message_id: row.try_get("message_id").map_err(database)?,
            body: row.try_get("body").map_err(database)?,
            priority: row
                .try_get::<i64, _>("priority")
                .map_err(database)?
                .clamp(0, 255) as u8,
            published_at: time(id, "published_at", &published_at)?,
        },
        deliveries: u32::try_from(row.try_get::<i64, _>("deliveries").map_err(database)?)
            .unwrap_or(0),
        dead,
    })
}
