//! Deciding where a long evaluation cannot hold the threads that serve
//! requests: a definition whose expressions iterate is decided on a thread
//! the runtime has handed its other tasks away from.

use domain::definition::WorkflowDefinition;
use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `decide` (which evaluates `definition`'s expressions) in place when
/// they cannot take long; otherwise through [`tokio::task::block_in_place`],
/// so the runtime moves its other tasks to other threads meanwhile. Each
/// evaluation is bounded by the cost budget; this bounds what a decision
/// holds of the runtime.
pub fn deciding<T>(definition: &WorkflowDefinition, decide: impl FnOnce() -> T) -> T {
    let multi_threaded = Handle::try_current()
        .is_ok_and(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread);
    if definition.iterates() && multi_threaded {
        tokio::task::block_in_place(decide)
    } else {
        decide()
    }
}
