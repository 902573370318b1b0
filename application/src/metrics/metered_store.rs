//! An event store that counts what passes through it: append latency and
//! conflicts, and every appended event (see `observe`). It hands the work
//! queues through untouched, so an engine runs on it like on the store itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::InstanceId;
use domain::instance::Timer;

use super::Metrics;
use super::observe::Observed;
use crate::Error;
use crate::ports::{
    AppendOutcome, AppendRequest, DueTimer, EventStore, LogHead, OutboxQueue, PendingMessage,
    RecordedEvent, TimerQueue,
};

#[derive(Clone, Debug)]
pub struct MeteredStore<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> MeteredStore<S> {
    pub fn new(inner: S, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl<S: EventStore> EventStore for MeteredStore<S> {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, Error> {
        let began = Instant::now();
        let stream = request.stream_id;
        let observed = Observed::of(&request.events);
        let outcome = self.inner.append(request).await;
        self.metrics
            .append_duration
            .observe(began.elapsed().as_secs_f64());
        match &outcome {
            Ok(_) => self.metrics.appended(stream, &observed),
            Err(Error::Conflict { .. }) => {
                self.metrics.append_conflicts.inc();
            }
            Err(_) => {}
        }
        outcome
    }

    /// The batch goes to the store whole (one transaction); each request is
    /// counted as an append of its own, the batch's latency observed once.
    async fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Result<AppendOutcome, Error>>, Error> {
        let began = Instant::now();
        let observed: Vec<(InstanceId, Vec<Observed>)> = requests
            .iter()
            .map(|request| (request.stream_id, Observed::of(&request.events)))
            .collect();
        let outcomes = self.inner.append_batch(requests).await;
        self.metrics
            .append_duration
            .observe(began.elapsed().as_secs_f64());
        if let Ok(outcomes) = &outcomes {
            for ((stream, observed), outcome) in observed.iter().zip(outcomes) {
                match outcome {
                    Ok(_) => self.metrics.appended(*stream, observed),
                    Err(Error::Conflict { .. }) => {
                        self.metrics.append_conflicts.inc();
                    }
                    Err(_) => {}
                }
            }
        }
        outcomes
    }

    async fn load(
        &self,
        stream_id: InstanceId,
        after_version: u64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let records = self.inner.load(stream_id, after_version).await?;
        self.metrics.loaded(stream_id, after_version, &records);
        Ok(records)
    }

    fn read_all(
        &self,
        after_position: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send {
        self.inner.read_all(after_position, limit)
    }
}

impl<S: LogHead> LogHead for MeteredStore<S> {
    fn head(&self) -> impl Future<Output = Result<i64, Error>> + Send {
        self.inner.head()
    }

    fn read_order_of(
        &self,
        position: i64,
    ) -> impl Future<Output = Result<(u64, i64), Error>> + Send {
        self.inner.read_order_of(position)
    }
}

impl<S: OutboxQueue> OutboxQueue for MeteredStore<S> {
    fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<PendingMessage>, Error>> + Send {
        self.inner.claim_outbox(now, lease, limit)
    }

    fn complete_outbox(&self, ids: &[i64]) -> impl Future<Output = Result<(), Error>> + Send {
        self.inner.complete_outbox(ids)
    }
}

impl<S: TimerQueue> TimerQueue for MeteredStore<S> {
    fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueTimer>, Error>> + Send {
        self.inner.claim_due_timers(now, lease, limit)
    }

    fn complete_timers(&self, ids: &[i64]) -> impl Future<Output = Result<(), Error>> + Send {
        self.inner.complete_timers(ids)
    }

    fn reschedule_timer(
        &self,
        instance: InstanceId,
        timer: &Timer,
        due_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, Error>> + Send {
        self.inner.reschedule_timer(instance, timer, due_at)
    }

    fn next_timer_due(&self) -> impl Future<Output = Result<Option<DateTime<Utc>>, Error>> + Send {
        self.inner.next_timer_due()
    }
}
