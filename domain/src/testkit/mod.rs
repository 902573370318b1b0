//! What tests of the aggregate start from: a given/when/then harness,
//! canned histories of named situations, and generated workflows.

mod generated;
mod harness;
pub mod histories;

pub use generated::generated_workflow;
pub use harness::{Harness, INSTANCE, describe, epoch};

use crate::instance::ADMIN_ROLE;
use crate::instance::Actor;

/// An operator's actor with the authority to retry or skip any step,
/// approvals included.
pub fn admin() -> Actor {
    Actor::new("admin", &[ADMIN_ROLE])
}
