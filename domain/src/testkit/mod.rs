//! What tests of the aggregate start from: a given/when/then harness,
//! canned histories of named situations, and generated workflows.

mod generated;
mod harness;
pub mod histories;

pub use generated::generated_workflow;
pub use harness::{Harness, INSTANCE, describe, epoch};
