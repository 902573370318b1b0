//! Turns a spec into a validated [`super::WorkflowDefinition`], reporting
//! every problem at once: `workflow` checks the whole and the graph,
//! `names` names and `needs`, `steps` each step, `schedules` the
//! declared schedules, `expressions` what
//! expressions read and the input schema.

mod builder;
mod expressions;
mod names;
mod schedules;
mod steps;
mod workflow;

use builder::{Builder, Reach};
use names::is_identifier;
use workflow::Defaults;

pub(super) use workflow::build;
