//! Ports: what the use cases need from the outside world, as traits the
//! infrastructure implements.

mod api_keys;
mod bus;
mod event_store;
mod log_head;
mod work_queues;

pub use api_keys::{ApiKeyRecord, ApiKeyStore};
pub use bus::{Bus, Delivery, Subscription};

pub use event_store::{
    AppendOutcome, AppendRequest, EventStore, Metadata, NewEvent, OutboxMessage, RecordedEvent,
    ScheduledTimer,
};
pub use log_head::LogHead;
pub use work_queues::{DueTimer, OutboxQueue, PendingMessage, TimerQueue};
