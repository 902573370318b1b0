//! `sla:`: an instance still running when it runs out is recorded as late,
//! once, and goes on; one that finished in time records nothing.

use domain::instance::{Command, Event, InstanceStatus, Timer};
use domain::testkit::Harness;
use serde_json::json;

const WORKFLOW: &str = r#"
name: with-sla
version: 1
sla: 10m
steps:
  a: { type: task, queue: q }
  b: { type: task, queue: q, needs: [a] }
"#;

#[test]
fn a_workflow_with_an_sla_sets_a_timer_when_it_starts() {
    let mut h = Harness::from_yaml(WORKFLOW);
    let started = h.now;
    h.start(json!({}));
    let Some(Event::WorkflowStarted { sla_due, .. }) = h.history.first() else {
        panic!("the first event is WorkflowStarted");
    };
    assert_eq!(*sla_due, Some(started + chrono::Duration::minutes(10)));
    assert!(
        h.timers
            .iter()
            .any(|(due, timer)| *timer == Timer::WorkflowSla && *due == sla_due.unwrap())
    );
}

#[test]
fn a_workflow_still_running_past_its_sla_records_the_breach_once_and_goes_on() {
    let mut h = Harness::from_yaml(WORKFLOW);
    h.start(json!({}));
    h.complete("a", json!({}));
    h.advance_clock(chrono::Duration::minutes(11));
    assert_eq!(
        h.then(Command::FireTimer(Timer::WorkflowSla)),
        ["WorkflowSlaBreached"]
    );
    assert!(
        h.history
            .contains(&Event::WorkflowSlaBreached { sla_seconds: 600 })
    );
    assert!(
        h.then(Command::FireTimer(Timer::WorkflowSla)).is_empty(),
        "a timer fired twice records the breach once"
    );
    assert_eq!(h.state.status, InstanceStatus::Running);
    assert_eq!(
        h.complete("b", json!({})),
        ["StepCompleted b#1", "WorkflowCompleted"]
    );
}

#[test]
fn a_workflow_that_finished_in_time_records_no_breach() {
    let mut h = Harness::from_yaml(WORKFLOW);
    h.start(json!({}));
    h.complete("a", json!({}));
    h.complete("b", json!({}));
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert!(h.then(Command::FireTimer(Timer::WorkflowSla)).is_empty());
}

#[test]
fn a_workflow_without_an_sla_sets_no_sla_timer() {
    let mut h = Harness::from_yaml(&WORKFLOW.replace("sla: 10m\n", ""));
    h.start(json!({}));
    assert!(
        h.timers
            .iter()
            .all(|(_, timer)| *timer != Timer::WorkflowSla)
    );
    assert!(h.then(Command::FireTimer(Timer::WorkflowSla)).is_empty());
}
