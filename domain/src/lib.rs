//! DisTorch's pure core: the workflow language and the instance aggregate.
//!
//! Nothing here performs I/O, reads a clock or draws random numbers: time and
//! entropy come in as arguments, so every rule is deterministic and testable.

pub mod definition;
pub mod expression;
pub mod ids;
pub mod instance;
pub mod testkit;
pub mod workflow_test;

pub use definition::{WorkflowDefinition, parse_workflow};
pub use ids::{InstanceId, StepId};
