//! One subscriber of the feed: catches up from the store when it resumes
//! after a position, then follows the shared ring. Each event is delivered
//! once, in log order: what it read from the store is skipped in the ring.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::Error;
use crate::ports::{EventStore, LogHead, RecordedEvent};

use super::{EventFeed, FeedFilter, SharedEvent};

/// Where a subscription begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedStart {
    /// With what is committed from now on.
    Live,
    /// With the first event after this position (a client's `Last-Event-ID`).
    After(i64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum FeedItem {
    Event(Arc<SharedEvent>),
    /// The subscriber fell further behind than the ring holds and is let go;
    /// it resumes after this position (the last event it was given or that
    /// its filter passed over). Nothing follows.
    Lagged {
        resume_after: i64,
    },
}

enum Phase {
    /// Live, before the tail fixed its origin: catches up from there.
    FromOrigin,
    CatchUp,
    Live(broadcast::Receiver<Arc<SharedEvent>>),
    Ended,
}

pub struct FeedSubscription<S> {
    feed: Arc<EventFeed<S>>,
    filter: FeedFilter,
    phase: Phase,
    pending: VecDeque<Arc<SharedEvent>>,
    /// The last position given or passed over.
    last_seen: i64,
    /// Where `last_seen` stands in the log's read order; `None` until it is
    /// looked up (a resumed subscriber's first catch-up does).
    last_order: Option<(u64, i64)>,
}

impl<S> std::fmt::Debug for FeedSubscription<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSubscription")
            .field("filter", &self.filter)
            .field("last_seen", &self.last_seen)
            .finish_non_exhaustive()
    }
}

impl<S: EventStore + LogHead> FeedSubscription<S> {
    pub(super) fn new(feed: Arc<EventFeed<S>>, filter: FeedFilter, start: FeedStart) -> Self {
        let (phase, last_seen, last_order) = match start {
            FeedStart::After(position) => (Phase::CatchUp, position.max(0), None),
            FeedStart::Live => {
                // Subscribe before reading the tail's position: whatever it
                // publishes later is above that position and in the ring.
                let receiver = feed.ring.subscribe();
                match feed.position.load(Ordering::SeqCst) {
                    // The tail has not started: catch up from its origin.
                    ..0 => (Phase::FromOrigin, 0, None),
                    // Everything the ring carries from now on is new.
                    position => (Phase::Live(receiver), position, Some((0, 0))),
                }
            }
        };
        Self {
            feed,
            filter,
            phase,
            pending: VecDeque::new(),
            last_seen,
            last_order,
        }
    }

    /// The last position given or passed over.
    pub fn last_seen(&self) -> i64 {
        self.last_seen
    }

    /// The next event that passes the filter; `None` once the feed ended.
    /// A store failure ends nothing: the caller may retry or let the client
    /// resume after [`Self::last_seen`].
    pub async fn next(&mut self) -> Result<Option<FeedItem>, Error> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                let store = self.feed.store.as_ref();
                if !self
                    .filter
                    .matches(&event, store, &self.feed.definitions)
                    .await?
                {
                    self.passed(&event);
                    continue;
                }
                self.passed(&event);
                return Ok(Some(FeedItem::Event(event)));
            }
            match &mut self.phase {
                Phase::Ended => return Ok(None),
                Phase::FromOrigin => {
                    self.last_seen = self.feed.origin().await?;
                    self.phase = Phase::CatchUp;
                }
                Phase::CatchUp => self.catch_up().await?,
                Phase::Live(receiver) => match receiver.recv().await {
                    // Read from the store already (the tail published it
                    // after this subscriber joined the ring, but read it
                    // before this subscriber's last read).
                    Ok(event) if Some(event.read_order()) <= self.last_order => {}
                    Ok(event) => self.pending.push_back(event),
                    Err(RecvError::Lagged(_)) => {
                        self.phase = Phase::Ended;
                        return Ok(Some(FeedItem::Lagged {
                            resume_after: self.last_seen,
                        }));
                    }
                    Err(RecvError::Closed) => self.phase = Phase::Ended,
                },
            }
        }
    }

    fn passed(&mut self, event: &RecordedEvent) {
        self.last_seen = event.position;
        self.last_order = Some(event.read_order());
    }

    /// Reads the next batch from the store. Near the end of the log, joins
    /// the ring and reads once more: what the tail published before the join
    /// is committed and so in that read; what it publishes after is in the ring.
    async fn catch_up(&mut self) -> Result<(), Error> {
        // What the tail will never publish must be readable by these reads.
        self.feed.origin().await?;
        if self.last_order.is_none() {
            self.last_order = Some(self.feed.store.read_order_of(self.last_seen).await?);
        }
        let batch = self.feed.config.batch;
        let after = self.last_seen;
        let events = self.read(after, batch).await?;
        let full = events.len() == batch;
        let after = events.last().map_or(after, |event| event.position);
        self.pending.extend(events);
        if full {
            return Ok(());
        }
        let receiver = self.feed.ring.subscribe();
        let events = self.read(after, batch).await?;
        if events.len() < batch {
            self.phase = Phase::Live(receiver);
        }
        self.pending.extend(events);
        Ok(())
    }

    /// A workflow's own stream when the filter names one (small, and read in
    /// commit order); the global log otherwise.
    async fn read(&self, after: i64, limit: usize) -> Result<Vec<Arc<SharedEvent>>, Error> {
        let store = self.feed.store.as_ref();
        let events = match self.filter.workflow {
            Some(id) => store
                .load(id, 0)
                .await?
                .into_iter()
                .filter(|event| event.position > after)
                .take(limit)
                .collect(),
            None => store.read_all(after, limit).await?,
        };
        Ok(events
            .into_iter()
            .map(|event| Arc::new(SharedEvent::new(event)))
            .collect())
    }
}
