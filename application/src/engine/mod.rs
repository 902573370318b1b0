//! The engine: runs commands against instances. Load the stream (through a
//! cache of folded states), decide, append the events with the tasks they
//! dispatch and the timers they set, all in one transaction; on a
//! concurrency conflict, reload and decide again.

mod appended;
mod batch;
mod cache;
mod claims;
mod execute;
mod offload;
mod origin;
mod results;
mod setup;
mod starts;

pub use offload::deciding;
pub use origin::{Origin, Submission};
pub use setup::Engine;

use cache::Cached;
use execute::command_span;
