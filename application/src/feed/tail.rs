//! The feed's one shared tail: reads what was committed (gap-safe, through
//! [`EventStore::read_all`]) when woken and publishes it to the ring every
//! subscriber follows.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::broadcast;

use super::definitions::DefinitionIndex;
use super::{FeedFilter, FeedSignal, FeedStart, FeedSubscription, SharedEvent};
use crate::Error;
use crate::ports::{EventStore, LogHead};

/// How long the tail waits at first when the log holds committed events it
/// may not read yet (an older transaction still runs), doubling to the max.
const HELD_BACK_FIRST_WAIT: Duration = Duration::from_millis(2);
const HELD_BACK_MAX_WAIT: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug)]
pub struct FeedConfig {
    /// Events the ring holds; a subscriber further behind is disconnected.
    pub capacity: usize,
    /// Events read from the store at once.
    pub batch: usize,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            capacity: 4096,
            batch: 512,
        }
    }
}

pub struct EventFeed<S> {
    pub(super) store: Arc<S>,
    pub(super) signal: Arc<FeedSignal>,
    pub(super) ring: broadcast::Sender<Arc<SharedEvent>>,
    /// The last position published; negative before the first read.
    pub(super) position: AtomicI64,
    /// The highest position published or at the origin. The log is read by
    /// transaction, then position, so the last position published need not
    /// be the highest; a notified position is reached when this is.
    pub(super) reached: AtomicI64,
    /// Where the tail began: the log's head when first asked (see
    /// [`EventFeed::origin`]).
    pub(super) origin: tokio::sync::OnceCell<i64>,
    pub(super) definitions: DefinitionIndex,
    pub(super) config: FeedConfig,
}

impl<S> std::fmt::Debug for EventFeed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventFeed")
            .field("position", &self.position.load(Ordering::SeqCst))
            .field("subscribers", &self.ring.receiver_count())
            .finish_non_exhaustive()
    }
}

impl<S: EventStore + LogHead> EventFeed<S> {
    pub fn new(store: Arc<S>, signal: Arc<FeedSignal>, config: FeedConfig) -> Self {
        Self {
            store,
            signal,
            ring: broadcast::channel(config.capacity.max(1)).0,
            position: AtomicI64::new(-1),
            reached: AtomicI64::new(-1),
            origin: tokio::sync::OnceCell::new(),
            definitions: DefinitionIndex::default(),
            config,
        }
    }

    /// Where the tail starts: the log's head, read once, by the tail's first
    /// read or a subscriber's catch-up, whichever comes first. Nothing at or
    /// below it is ever published to the ring, so a subscriber that catches
    /// up from the store must read after the origin was fixed: then every
    /// event at or below it was readable before that read.
    pub(crate) async fn origin(&self) -> Result<i64, Error> {
        self.origin
            .get_or_try_init(|| self.store.head())
            .await
            .copied()
    }

    /// Reads what was committed since the last read and publishes it; returns
    /// how many events it published. The first call starts at the origin.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let mut position = self.position.load(Ordering::SeqCst);
        if position < 0 {
            position = self.origin().await?;
            self.position.store(position, Ordering::SeqCst);
            self.reached.fetch_max(position, Ordering::SeqCst);
        }
        let events = self.store.read_all(position, self.config.batch).await?;
        let published = events.len();
        for event in events {
            self.definitions.learn(&event);
            position = event.position;
            self.reached.fetch_max(position, Ordering::SeqCst);
            // No subscriber is not an error: the event is simply not wanted.
            let _ = self.ring.send(Arc::new(SharedEvent::new(event)));
        }
        self.position.store(position, Ordering::SeqCst);
        Ok(published)
    }

    /// Tails the log forever: reads while there is something to read, then
    /// sleeps until an append is signalled (one read per wake-up when the
    /// reads keep up, not a second one to find the log drained). A notification names the position
    /// it committed; while the readable log is behind it, an older transaction
    /// holds it back and the tail retries after a short, growing wait.
    pub async fn run(&self) {
        let mut wait = HELD_BACK_FIRST_WAIT;
        loop {
            match self.run_once().await {
                Ok(0) if self.held_back() => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(HELD_BACK_MAX_WAIT);
                }
                // A full batch: there may be more to read at once.
                Ok(published) if published >= self.config.batch => wait = HELD_BACK_FIRST_WAIT,
                // Notified of more than was read: read again (at once, as the
                // next round's empty read sleeps if it is held back).
                Ok(published) if published > 0 && self.held_back() => {
                    wait = HELD_BACK_FIRST_WAIT;
                }
                // Read up to every commit notified: sleep until the next one
                // (a commit during the read left its wake-up stored), with no
                // second read that would find nothing.
                Ok(_) => {
                    wait = HELD_BACK_FIRST_WAIT;
                    self.signal.notify.notified().await;
                }
                Err(error) => {
                    tracing::error!(error = %error.report(), "the event feed cannot read the log");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn held_back(&self) -> bool {
        self.signal.committed.load(Ordering::SeqCst) > self.reached.load(Ordering::SeqCst)
    }

    /// Subscribes with a filter, from a start.
    pub fn subscribe(
        self: &Arc<Self>,
        filter: FeedFilter,
        start: FeedStart,
    ) -> FeedSubscription<S> {
        FeedSubscription::new(self.clone(), filter, start)
    }

    /// The last position the tail published; negative before its first read.
    pub fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// How many subscribers are connected.
    pub fn subscribers(&self) -> usize {
        self.ring.receiver_count()
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}
