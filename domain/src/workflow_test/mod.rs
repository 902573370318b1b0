//! `distorch test`: tests for workflow definitions, run offline through the
//! pure engine. A test file names a definition and gives cases: an input,
//! the scripted outcome of each step, and what the run must come to.

mod compare;
mod file;
mod run;

use std::sync::Arc;

pub use compare::{Difference, differences};
pub use file::{Expectation, Outcome, Script, TestCase, TestFile, read_test_file};
pub use run::{Observed, RunError, run_case, unknown_steps};

use crate::definition::WorkflowDefinition;

/// How one case went.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Passed,
    /// The run ended, but not as expected.
    Failed(Vec<Difference>),
    /// The run could not go on (an unscripted step, a refused input, …).
    Broken(RunError),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }
}

/// Runs a case and compares the run with its expectation.
pub fn verdict(definition: &Arc<WorkflowDefinition>, case: &TestCase) -> Verdict {
    match run_case(definition.clone(), case) {
        Ok(observed) => {
            let found = differences(&case.expect, &observed);
            if found.is_empty() {
                Verdict::Passed
            } else {
                Verdict::Failed(found)
            }
        }
        Err(error) => Verdict::Broken(error),
    }
}
