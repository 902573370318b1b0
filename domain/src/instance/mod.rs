//! The workflow instance aggregate: `decide(&state, command, context) -> events`
//! and `evolve(state, &event) -> state`, both pure and synchronous.
//!
//! `decide` holds every rule; `evolve` only records facts. Time and entropy
//! come in through [`DecisionContext`], so a decision can be replayed exactly.

mod advance;
pub mod backoff;
mod command;
mod decide;
pub mod effects;
mod error;
mod event;
mod evolve;
pub mod saga;
mod state;
mod step;

pub use command::{ADMIN_ROLE, APPROVER_ROLE, Actor, Command, Timer};
pub use decide::{DecisionContext, decide};
pub use error::DomainError;
pub use event::{CompensationCause, Event, FailureKind, SkipReason, StepError, TimeoutKind};
pub use evolve::evolve;
pub use state::{InstanceStatus, WorkflowInstance};
pub use step::{CompensationState, StepPhase, StepState, StepStatus, Waiting};
