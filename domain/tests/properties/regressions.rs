//! Cases the properties found, kept as plain tests.

use std::sync::Arc;

use domain::instance::{Command, DecisionContext, StepStatus, decide};
use domain::parse_workflow;
use domain::testkit::Harness;
use domain::testkit::admin;
use serde_json::json;

use crate::oracle::{in_flight, scheduled_compensations, waiting_approvals};

/// `join: any` on a step without needs used to make `decide` panic (the
/// readiness of `join: any` named `needs[0]` as the skipped need). Refusing
/// the definition, or running the step like any root step, are both fine.
#[test]
fn join_any_without_needs_does_not_panic() {
    let yaml =
        "name: prop\nversion: 1\nsteps:\n  s0:\n    type: task\n    queue: q\n    join: any\n";
    let Ok(definition) = parse_workflow(yaml) else {
        return;
    };
    let mut h = Harness::new(Arc::new(definition));
    assert_eq!(
        h.start(json!({})),
        ["WorkflowStarted", "StepScheduled s0#1"]
    );
}

/// Whether a live instance is left with nothing that could move it: no
/// attempt or compensation in flight, no approval pending, and no timer
/// that decides anything.
fn is_stuck(h: &Harness) -> bool {
    let state = &h.state;
    let context = DecisionContext::new(h.now, h.entropy);
    !state.status.is_final()
        && (0..state.steps.len()).all(|index| !in_flight(state, index))
        && scheduled_compensations(state).is_empty()
        && waiting_approvals(state).is_empty()
        && h.timers.iter().all(|(_, timer)| {
            decide(state, &Command::FireTimer(timer.clone()), context)
                .is_ok_and(|events| events.is_empty())
        })
}

const TOLERATED_AND_FATAL: &str = "
name: prop
version: 1
steps:
  a: { type: task, queue: q, on_error: continue, retry: { max_attempts: 1 } }
  b: { type: task, queue: q, on_error: fail, retry: { max_attempts: 1 } }
";

/// An instance failed by `b` (`on_error: fail`) that also holds `a`, which
/// failed with `on_error: continue`.
fn failed_with_a_tolerated_failure() -> Harness {
    let mut h = Harness::from_yaml(TOLERATED_AND_FATAL);
    h.start(json!({}));
    assert_eq!(h.fail("a", false), ["StepFailed a#1"]);
    assert_eq!(h.fail("b", false), ["StepFailed b#1", "WorkflowFailed"]);
    h
}

fn assert_not_stuck(h: &Harness) {
    assert!(
        !is_stuck(h),
        "stuck in {} after {:?}",
        h.state.status,
        h.described_history()
    );
}

/// An operator's `skip` of `a` used to bring the instance back to
/// `running` with `b` still failed: nothing was ever scheduled again and
/// the instance never reached a final state.
#[test]
fn operator_skip_of_a_tolerated_failure_does_not_strand_the_instance() {
    let mut h = failed_with_a_tolerated_failure();
    let skip = Command::SkipStep {
        step: "a".into(),
        output: json!({}),
        by: admin(),
    };
    // Refusing the skip is fine; accepting it must not strand the instance.
    if h.when(skip).is_ok() {
        assert_not_stuck(&h);
    }
}

/// The same with an operator's `retry` of `a`.
#[test]
fn operator_retry_of_a_tolerated_failure_does_not_strand_the_instance() {
    let mut h = failed_with_a_tolerated_failure();
    if h.when(Command::RetryStep {
        step: "a".into(),
        by: admin(),
    })
    .is_ok()
    {
        assert_eq!(h.complete("a", json!({})), ["StepCompleted a#2"]);
        assert_not_stuck(&h);
    }
}

/// While an instance was `failed` (by `on_error: fail`), the results of the
/// attempts still in flight, and their deadline timers, used to decide
/// nothing: they were dropped although the worker had answered. After an
/// operator's `retry` of the failed step, `b` stayed `scheduled` forever.
#[test]
fn results_that_arrive_while_failed_are_not_lost() {
    let mut h = Harness::from_yaml(
        "
name: prop
version: 1
steps:
  a: { type: task, queue: q, on_error: fail, retry: { max_attempts: 1 } }
  b: { type: task, queue: q }
",
    );
    h.start(json!({}));
    assert_eq!(h.fail("a", false), ["StepFailed a#1", "WorkflowFailed"]);
    // b's worker answers now; the engine consumes the message.
    let answered = h.complete("b", json!({ "done": true }));
    h.then(Command::RetryStep {
        step: "a".into(),
        by: admin(),
    });
    h.complete("a", json!({}));
    assert!(
        h.state.status.is_final() || h.state.steps[1].status() != StepStatus::Scheduled,
        "b answered while failed ({answered:?}), and after the retry the instance is {} \
         with b {} forever: {:?}",
        h.state.status,
        h.state.steps[1].status(),
        h.described_history()
    );
}
