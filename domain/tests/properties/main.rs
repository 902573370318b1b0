//! Property tests of the instance aggregate over random workflows.
//!
//! A random DAG of 1 to 30 steps is written as YAML, parsed, started, and
//! driven by a random "world": workers complete or fail attempts and
//! compensations, people approve or reject, timers fire, operators sometimes
//! pause, resume, cancel, and retry or skip what failed, and the transport
//! delivers duplicates, stale attempts and re-fired timers. Each case draws
//! its own weights for these, so some worlds are calm and some hostile. The
//! world is a list of choices, so proptest shrinks it; once the choices run
//! out a benign world (complete everything, approve, fire timers, resume)
//! drives the run to its end. Then the history is checked:
//!
//! 1. every run reaches a final state, within a bound of iterations;
//! 2. no step is scheduled before its needs are settled (by its `join`);
//! 3. only completed steps are compensated, each compensation completes at
//!    most once, and in saga order (dependants first);
//! 4. replaying the history with `evolve` gives the harness' state;
//! 5. duplicate and stale deliveries, and re-fired timers, decide nothing;
//! 6. every event survives a JSON round trip.

mod cases;
mod checks;
mod choices;
mod oracle;
mod regressions;
mod world;

use std::sync::Arc;

use domain::parse_workflow;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::cases::{Case, case_gen};
use crate::checks::check_history;
use crate::world::drive;

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let yaml = case.yaml();
    let definition = match parse_workflow(&yaml) {
        Ok(definition) => Arc::new(definition),
        Err(problems) => {
            return Err(TestCaseError::fail(format!(
                "generated an invalid workflow:\n{problems}\n{yaml}"
            )));
        }
    };
    let input = case.input();
    let (world, outcome) = drive(definition, input.clone(), case.weights, &case.choices);
    let outcome = outcome.and_then(|()| check_history(&world));
    outcome
        .map_err(|reason| TestCaseError::fail(format!("{reason}\n{}", world.report(&yaml, &input))))
}

proptest! {
    #![proptest_config(ProptestConfig {
        // No regressions file next to the test: failures print the workflow
        // and the commands instead.
        failure_persistence: None,
        ..ProptestConfig::with_cases(128)
    })]

    #[test]
    fn random_workflows_in_a_random_world(case in case_gen(30, 300)) {
        run_case(&case)?;
    }
}
