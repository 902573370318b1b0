//! What an expression may read while it runs: the instance's input, its
//! steps' status and output, and the workflow's names.

use serde_json::Value;

/// What an expression may read while it runs.
pub trait Scope {
    /// The instance's input.
    fn input(&self) -> &Value;
    /// A step's status (`completed`, `failed`, ...) and output, if the step exists.
    fn step(&self, id: &str) -> Option<(&'static str, Option<&Value>)>;
    /// `workflow.id`, `workflow.name`, `workflow.version`.
    fn workflow(&self) -> Value;
}

/// A scope for unit tests: the input is the value given, and the one step
/// `charge` completed with that value as its output.
#[cfg(test)]
pub(crate) struct Fixture(pub Value);

#[cfg(test)]
impl Scope for Fixture {
    fn input(&self) -> &Value {
        &self.0
    }
    fn step(&self, id: &str) -> Option<(&'static str, Option<&Value>)> {
        (id == "charge").then_some(("completed", Some(&self.0)))
    }
    fn workflow(&self) -> Value {
        serde_json::json!({"id": "abc", "name": "order", "version": 1})
    }
}
