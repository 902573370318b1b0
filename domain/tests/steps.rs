//! What a step's state shows in each phase: the worker while it runs and
//! once it finished, the output once it completed or was skipped, the
//! failure until its next attempt is scheduled.

use domain::instance::{Command, SkipReason, StepStatus, Waiting};
use domain::testkit::{Harness, admin, histories};
use serde_json::json;

#[test]
fn a_step_shows_its_worker_while_it_runs_and_once_it_completed() {
    let mut h = histories::lifecycle().given(histories::running());
    assert_eq!(h.step("a").worker(), None);
    h.then(Command::RecordStepStarted {
        step: "a".into(),
        attempt: 1,
        worker: "w1".into(),
    });
    assert_eq!(h.step("a").status(), StepStatus::Running);
    assert_eq!(h.step("a").worker(), Some("w1"));
    h.complete("a", json!({"id": 7}));
    assert_eq!(h.step("a").status(), StepStatus::Completed);
    assert_eq!(h.step("a").worker(), Some("w1"));
    assert_eq!(h.step("a").output(), Some(&json!({"id": 7})));
}

#[test]
fn a_failed_step_shows_why_until_an_operator_retries_it() {
    let mut h = histories::lifecycle().given(histories::failed());
    assert_eq!(h.step("c").status(), StepStatus::Failed);
    assert_eq!(h.step("c").error_message(), Some("c broke"));
    h.then(Command::RetryStep {
        step: "c".into(),
        by: admin(),
    });
    assert_eq!(h.step("c").status(), StepStatus::Scheduled);
    assert_eq!(h.step("c").attempt, 2);
    assert_eq!(h.step("c").error_message(), None);
}

#[test]
fn an_operator_skip_gives_the_output_and_keeps_the_failure_it_skipped() {
    let mut h = histories::lifecycle().given(histories::failed());
    h.then(Command::SkipStep {
        step: "c".into(),
        output: json!({"by": "hand"}),
        by: admin(),
    });
    let c = h.step("c");
    assert_eq!(c.status(), StepStatus::Skipped);
    assert_eq!(c.skip_reason(), Some(&SkipReason::Operator));
    assert_eq!(c.output(), Some(&json!({"by": "hand"})));
    assert_eq!(c.error_message(), Some("c broke"));
}

#[test]
fn a_timed_out_attempt_shows_the_timeout_as_its_error() {
    let mut h = histories::lifecycle().given(histories::running());
    h.fire_next_timer();
    assert_eq!(h.step("a").status(), StepStatus::Failed);
    assert_eq!(h.step("a").error_message(), Some("the attempt timed out"));
}

#[test]
fn a_step_waiting_to_retry_shows_the_failure_it_retries_after() {
    let mut h = Harness::from_yaml(
        "
name: retried
version: 1
steps:
  a: { type: task, queue: q, retry: { max_attempts: 2, initial: 1s, jitter: false } }
",
    );
    h.start(json!({}));
    h.fail("a", true);
    let a = h.step("a");
    assert_eq!(a.status(), StepStatus::Waiting);
    assert!(matches!(
        a.waiting(),
        Some(Waiting::Retry { attempt: 2, .. })
    ));
    assert_eq!(a.error_message(), Some("a broke"));
    assert_eq!(h.fire_next_timer().unwrap(), ["StepScheduled a#2"]);
    assert_eq!(h.step("a").error_message(), None);
}
