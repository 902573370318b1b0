//! Given/when/then tests of the aggregate's main paths.

use domain::testkit::Harness;
use serde_json::json;

const ORDER: &str = r#"
name: order
version: 1
defaults:
  retry: { max_attempts: 2, initial: 1s, jitter: false }
steps:
  reserve:
    type: task
    queue: inventory
    compensate: { type: task, queue: inventory, input: { release: "${ steps.reserve.output.id }" } }
  charge:
    type: task
    queue: payments
    needs: [reserve]
    input: { amount: "${ input.amount }" }
    compensate: { type: task, queue: payments }
  ship:
    type: task
    queue: shipping
    needs: [reserve]
    compensate: { type: task, queue: shipping }
  confirm:
    type: task
    queue: orders
    needs: [charge, ship]
"#;

#[test]
fn runs_parallel_branches_and_completes() {
    let mut h = Harness::from_yaml(ORDER);
    assert_eq!(
        h.start(json!({"amount": 10})),
        ["WorkflowStarted", "StepScheduled reserve#1"]
    );
    assert_eq!(
        h.complete("reserve", json!({"id": "r1"})),
        [
            "StepCompleted reserve#1",
            "StepScheduled charge#1",
            "StepScheduled ship#1"
        ]
    );
    assert_eq!(h.complete("ship", json!({})), ["StepCompleted ship#1"]);
    assert_eq!(
        h.complete("charge", json!({})),
        ["StepCompleted charge#1", "StepScheduled confirm#1"]
    );
    assert_eq!(
        h.complete("confirm", json!({"ok": true})),
        ["StepCompleted confirm#1", "WorkflowCompleted"]
    );
}

#[test]
fn fails_step_and_compensates_in_reverse_order() {
    let mut h = Harness::from_yaml(ORDER);
    h.start(json!({"amount": 10}));
    h.complete("reserve", json!({"id": "r1"}));
    h.complete("charge", json!({}));
    h.complete("ship", json!({}));
    assert_eq!(
        h.fail("confirm", true),
        ["StepFailed confirm#1", "StepRetryScheduled confirm#2"]
    );
    assert_eq!(h.fire_next_timer().unwrap(), ["StepScheduled confirm#2"]);
    assert_eq!(
        h.fail("confirm", true),
        [
            "StepFailed confirm#2",
            "CompensationStarted",
            "CompensationScheduled charge#1",
            "CompensationScheduled ship#1"
        ]
    );
    assert_eq!(
        h.complete_compensation("ship"),
        ["CompensationCompleted ship#1"]
    );
    assert_eq!(
        h.complete_compensation("charge"),
        [
            "CompensationCompleted charge#1",
            "CompensationScheduled reserve#1"
        ]
    );
    assert_eq!(
        h.complete_compensation("reserve"),
        ["CompensationCompleted reserve#1", "WorkflowCompensated"]
    );
}
