//! DisTorch's use cases and the ports they need. The engine runs commands
//! against instances (load, decide, append the events with their tasks and
//! timers); the loops carry work between the engine and the bus; the
//! projection, the event feed and the metrics read the log; the ports are
//! the traits the infrastructure implements.

pub mod approvals;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod codec;
pub mod definitions;
pub mod engine;
mod error;
pub mod feed;
pub mod fleet;
pub mod loops;
pub mod messages;
pub mod metrics;
pub mod overview;
pub mod ports;
pub mod projection;
pub mod schedules;
pub mod secrets;
pub mod starts;
pub mod stats;
pub mod step_figures;
pub mod tasks;
pub mod trace;
pub mod workflows;

pub use engine::{Engine, Origin, Submission};
pub use error::{Error, Report, Source};
