//! DisTorch's use cases and the ports they need: the event store (with the
//! outbox and timers written in the same transaction), and the encoding of
//! domain events into stored records.

pub mod auth;
pub mod catalog;
pub mod clock;
pub mod codec;
pub mod definitions;
pub mod engine;
mod error;
pub mod feed;
pub mod loops;
pub mod messages;
pub mod metrics;
pub mod ports;
pub mod projection;
pub mod secrets;
pub mod starts;
pub mod stats;
pub mod tasks;
pub mod trace;
pub mod workflows;

pub use engine::{Engine, Origin, Submission};
pub use error::Error;
