//! CEL expressions (`when:`) and `${ }` templates, compiled once when a
//! definition is validated and evaluated by the aggregate against a [`Scope`].

mod compiled;
mod convert;
pub mod cost;
pub mod limits;
mod references;
mod scope;
mod template;

pub use compiled::{CompileError, EvaluationError, Expression};
pub use convert::weight;
pub use references::References;
pub use scope::Scope;
pub use template::{Template, TemplateError};
