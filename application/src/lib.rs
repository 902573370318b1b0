//! DisTorch's use cases and the ports they need: the event store (with the
//! outbox and timers written in the same transaction), and the encoding of
//! domain events into stored records.

pub mod codec;
mod error;
pub mod messages;
pub mod ports;

pub use error::Error;
