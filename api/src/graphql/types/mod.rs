//! The GraphQL object types, built from the read models, the log and the
//! engine's state.

mod definition;
mod event;
mod stats;
mod task;
mod workflow;

pub(crate) use definition::{Definition, DeployedDefinition};
pub(crate) use event::Event;
pub(crate) use stats::{Bottleneck, Stats};
pub(crate) use task::{Heartbeat, TaskReport};
pub(crate) use workflow::{Workflow, WorkflowPage};
