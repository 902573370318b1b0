//! `start_at`: an instance asked to start later is `scheduled` until then,
//! runs nothing before, can be cancelled, and counts its deadline from the
//! time it starts.

use chrono::Duration;
use domain::instance::{Command, Event, InstanceStatus, Timer};
use domain::testkit::Harness;
use serde_json::json;

const WORKFLOW: &str = r#"
name: later
version: 1
timeout: 10m
steps:
  a: { type: task, queue: q }
"#;

fn start_in(h: &mut Harness, delay: Duration) -> Vec<String> {
    let start_at = Some(h.now + delay);
    h.then(Command::StartWorkflow {
        input: json!({}),
        started_by: "test".to_owned(),
        start_at,
    })
}

#[test]
fn a_later_start_waits_scheduled_and_runs_when_its_timer_fires() {
    let mut h = Harness::from_yaml(WORKFLOW);
    let due = h.now + Duration::hours(1);
    assert_eq!(start_in(&mut h, Duration::hours(1)), ["WorkflowStarted"]);
    assert_eq!(h.state.status, InstanceStatus::Scheduled);
    assert!(h.timers.contains(&(due, Timer::ScheduledStart)));
    let Some(Event::WorkflowStarted { deadline, .. }) = h.history.first() else {
        panic!("the first event is WorkflowStarted");
    };
    assert_eq!(*deadline, Some(due + Duration::minutes(10)));

    h.advance_clock(Duration::hours(1));
    assert_eq!(
        h.then(Command::FireTimer(Timer::ScheduledStart)),
        ["ScheduledStartReached", "StepScheduled a#1"]
    );
    assert_eq!(h.state.status, InstanceStatus::Running);
    assert!(
        h.then(Command::FireTimer(Timer::ScheduledStart)).is_empty(),
        "a repeated timer decides nothing"
    );
}

#[test]
fn a_start_at_not_after_now_starts_at_once() {
    let mut h = Harness::from_yaml(WORKFLOW);
    assert_eq!(
        start_in(&mut h, Duration::zero()),
        ["WorkflowStarted", "StepScheduled a#1"]
    );
    assert_eq!(h.state.status, InstanceStatus::Running);
    assert!(
        !h.timers
            .iter()
            .any(|(_, timer)| *timer == Timer::ScheduledStart)
    );
}

#[test]
fn a_scheduled_instance_cancelled_before_its_time_never_runs() {
    let mut h = Harness::from_yaml(WORKFLOW);
    start_in(&mut h, Duration::hours(1));
    assert_eq!(
        h.then(Command::Cancel { compensate: true }),
        ["CancellationRequested", "WorkflowCancelled"]
    );
    h.advance_clock(Duration::hours(1));
    assert!(h.then(Command::FireTimer(Timer::ScheduledStart)).is_empty());
    assert_eq!(h.state.status, InstanceStatus::Cancelled);
}

#[test]
fn a_later_start_still_checks_its_input_now() {
    let mut h = Harness::from_yaml(
        "name: typed\nversion: 1\ninput:\n  schema: { type: object, required: [n] }\nsteps:\n  a: { type: noop }\n",
    );
    let refused = h.when(Command::StartWorkflow {
        input: json!({}),
        started_by: "test".to_owned(),
        start_at: Some(h.now + Duration::hours(1)),
    });
    assert!(refused.is_err());
}
