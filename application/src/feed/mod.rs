//! The live feed of the global log: one shared tail per node reads what was
//! committed (gap-safe, through [`EventStore::read_all`]) when woken and fans
//! it out to every subscriber through one bounded ring. Subscribers resume
//! after a position by reading the store until they meet the ring.
//!
//! [`EventStore::read_all`]: crate::ports::EventStore::read_all

mod definitions;
mod filter;
mod shared_event;
mod signal;
mod subscription;
mod tail;

pub use filter::FeedFilter;
pub use shared_event::SharedEvent;
pub use signal::FeedSignal;
pub use subscription::{FeedItem, FeedStart, FeedSubscription};
pub use tail::{EventFeed, FeedConfig};
