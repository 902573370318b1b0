//! The fleet's use cases: recording what workers say (or what their polls
//! and reports show), listing them, and draining one.

use chrono::{DateTime, Utc};

use super::{PresenceKind, Transport, WorkerPresence, WorkerRecord, WorkerSignal, WorkerStatus};
use crate::Error;
use crate::ports::{WorkerChannel, WorkerRegistry};

/// Records a presence message heard on the bus.
pub async fn record_presence(
    registry: &dyn WorkerRegistry,
    presence: WorkerPresence,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let record = WorkerRecord {
        id: presence.worker_id,
        name: presence.name,
        host: presence.host,
        version: presence.version,
        transport: Transport::Bus,
        queues: presence.queues,
        capacity: presence.capacity,
        in_flight: presence.in_flight,
        completed: presence.completed,
        failed: presence.failed,
        started_at: presence.started_at,
        last_seen: now,
        draining: presence.draining,
        gone: presence.kind == PresenceKind::Goodbye,
    };
    registry.put(&record).await
}

/// Every worker with its status now.
pub async fn list(
    registry: &dyn WorkerRegistry,
    now: DateTime<Utc>,
) -> Result<Vec<(WorkerRecord, WorkerStatus)>, Error> {
    Ok(registry
        .list()
        .await?
        .into_iter()
        .map(|record| {
            let status = record.status(now);
            (record, status)
        })
        .collect())
}

pub async fn show(
    registry: &dyn WorkerRegistry,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(WorkerRecord, WorkerStatus), Error> {
    let record = registry.get(id).await?.ok_or_else(|| Error::NotFound {
        what: format!("worker {id}"),
    })?;
    let status = record.status(now);
    Ok((record, status))
}

#[derive(Debug)]
pub enum DrainOutcome {
    /// Asked to drain (or draining already).
    Draining(WorkerRecord),
    /// Offline: there is nobody to ask.
    Offline(WorkerRecord),
}

/// Asks a worker to finish its tasks and take no new one: its record
/// says so at once (an HTTP poller's next poll gets no task), and a worker
/// on the bus gets the signal on its control queue.
pub async fn drain(
    registry: &dyn WorkerRegistry,
    channel: Option<&dyn WorkerChannel>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<DrainOutcome, Error> {
    let (record, status) = show(registry, id, now).await?;
    if status == WorkerStatus::Offline {
        return Ok(DrainOutcome::Offline(record));
    }
    registry.mark_draining(id).await?;
    if let (Transport::Bus, Some(channel)) = (record.transport, channel) {
        // A worker that died meanwhile has no control queue: it shows
        // offline soon, and it is recorded as draining.
        if let Err(error) = channel.signal(id, WorkerSignal::Drain).await {
            tracing::warn!(worker = id, error = %error.report(), "the drain signal was not delivered");
        }
    }
    Ok(DrainOutcome::Draining(WorkerRecord {
        draining: true,
        ..record
    }))
}

/// An HTTP worker's poll of `queue`: registers it (or refreshes it); true
/// when it is draining, and must be given no task.
pub async fn poll_seen(
    registry: &dyn WorkerRegistry,
    id: &str,
    name: &str,
    queue: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let mut record = registry.get(id).await?.unwrap_or_else(|| WorkerRecord {
        id: id.to_owned(),
        name: name.to_owned(),
        host: String::new(),
        version: String::new(),
        transport: Transport::Http,
        queues: Vec::new(),
        capacity: 1,
        in_flight: Vec::new(),
        completed: 0,
        failed: 0,
        started_at: now,
        last_seen: now,
        draining: false,
        gone: false,
    });
    if !record.queues.iter().any(|known| known == queue) {
        record.queues.push(queue.to_owned());
    }
    record.last_seen = now;
    record.gone = false;
    registry.put(&record).await?;
    Ok(record.draining)
}

/// An HTTP worker took a task.
pub async fn task_taken(
    registry: &dyn WorkerRegistry,
    id: &str,
    task_id: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if let Some(mut record) = registry.get(id).await? {
        record.in_flight.push(task_id.to_owned());
        record.last_seen = now;
        registry.put(&record).await?;
    }
    Ok(())
}

/// A report over HTTP on `task_id`: the worker holding it is seen, and a
/// final report (`finished`, failed or not) counts and frees the task.
pub async fn task_reported(
    registry: &dyn WorkerRegistry,
    task_id: &str,
    finished: Option<bool>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let Some(mut record) = registry.holding(task_id).await? else {
        return Ok(());
    };
    record.last_seen = now;
    if let Some(failed) = finished {
        record.in_flight.retain(|held| held != task_id);
        if failed {
            record.failed += 1;
        } else {
            record.completed += 1;
        }
    }
    registry.put(&record).await
}
