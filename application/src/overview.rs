//! The overview an on-call engineer opens first: instances by status, what
//! started and finished in each of the last 60 minutes, approvals waiting,
//! and the oldest task waiting for a worker on each queue.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use domain::definition::{HTTP_QUEUE, StepKind};

use crate::Error;
use crate::approvals::MAX_APPROVALS;
use crate::catalog;
use crate::definitions::DefinitionRegistry;
use crate::ports::{DefinitionStore, InsightQueries, ReadModelQueries};

/// The minutes the overview looks back on.
pub const MINUTES: i64 = 60;

/// One minute: instances started, and instances that reached each final status.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Minute {
    pub at: DateTime<Utc>,
    pub started: u64,
    pub finished: BTreeMap<String, u64>,
}

/// Tasks waiting for a worker on one queue (forward attempts not started).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueWait {
    pub queue: String,
    pub waiting: u64,
    pub oldest: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Overview {
    pub at: DateTime<Utc>,
    /// Instances by status, all time.
    pub counts: BTreeMap<String, u64>,
    /// The last [`MINUTES`] minutes, oldest first, every minute present.
    pub minutes: Vec<Minute>,
    /// Instances that reached each final status in the last hour.
    pub last_hour: BTreeMap<String, u64>,
    /// Approval steps waiting for a decision (at most [`MAX_APPROVALS`]).
    pub approvals_waiting: u64,
    /// Oldest first.
    pub queues: Vec<QueueWait>,
}

pub async fn overview<R: ReadModelQueries + InsightQueries + DefinitionStore>(
    reads: &R,
    registry: &DefinitionRegistry,
    now: DateTime<Utc>,
) -> Result<Overview, Error> {
    let first =
        now.duration_trunc(Duration::minutes(1)).unwrap_or(now) - Duration::minutes(MINUTES - 1);
    let (statuses, activity, approvals, waiting) = tokio::try_join!(
        reads.status_counts(),
        reads.activity(first),
        reads.waiting_approvals(None, MAX_APPROVALS),
        reads.waiting_steps(),
    )?;
    let mut counts = BTreeMap::new();
    for count in statuses {
        *counts.entry(count.status).or_default() += count.count;
    }
    let mut minutes: Vec<Minute> = (0..MINUTES)
        .map(|offset| Minute {
            at: first + Duration::minutes(offset),
            ..Minute::default()
        })
        .collect();
    let mut last_hour = BTreeMap::new();
    for row in activity {
        let index = (row.minute - first).num_minutes();
        let Some(minute) = usize::try_from(index).ok().and_then(|i| minutes.get_mut(i)) else {
            continue;
        };
        if row.what == "started" {
            minute.started += row.count;
        } else {
            *minute.finished.entry(row.what.clone()).or_default() += row.count;
            *last_hour.entry(row.what).or_default() += row.count;
        }
    }
    let mut queues: BTreeMap<String, QueueWait> = BTreeMap::new();
    for row in waiting {
        let definition = catalog::resolve(registry, reads, &row.definition, row.version).await?;
        let queue = match definition.step(&row.step).map(|step| &step.kind) {
            Some(StepKind::Task { queue, .. }) => queue.clone(),
            Some(StepKind::Http { .. }) => HTTP_QUEUE.to_owned(),
            _ => continue,
        };
        let entry = queues.entry(queue.clone()).or_insert(QueueWait {
            queue,
            waiting: 0,
            oldest: row.oldest,
        });
        entry.waiting += row.count;
        entry.oldest = entry.oldest.min(row.oldest);
    }
    let mut queues: Vec<QueueWait> = queues.into_values().collect();
    queues.sort_by_key(|queue| queue.oldest);
    Ok(Overview {
        at: now,
        counts,
        minutes,
        last_hour,
        approvals_waiting: approvals.len() as u64,
        queues,
    })
}
