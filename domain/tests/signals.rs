//! Signals: a `signal` step waits for a named event sent from outside; one
//! sent before the step is reached is kept and taken when it is; an unknown
//! name is refused with the names the workflow waits for; a payload is
//! checked against the step's schema; a deadline fails or skips the step.

use domain::instance::{
    Actor, Command, DomainError, InstanceStatus, StepStatus, TimeoutKind, evolve,
};
use domain::testkit::Harness;
use serde_json::{Value, json};

/// A task `open`, then the signal step `document` (a week at most), then `decide`.
const LOAN: &str = r#"
name: loan
version: 1
defaults: { retry: { max_attempts: 1 } }
steps:
  open:
    type: task
    queue: q
    compensate: { type: task, queue: undo }
  document:
    type: signal
    name: document.uploaded
    needs: [open]
    timeout: 168h
    schema: { type: object, required: [url] }
  decide:
    type: task
    queue: q
    needs: [document]
    input: { url: "${ steps.document.output.url }" }
"#;

fn signal(h: &mut Harness, name: &str, payload: Value) -> Result<Vec<String>, DomainError> {
    h.when(Command::Signal {
        name: name.to_owned(),
        payload,
        actor: Actor::new("customer-7", &[]),
    })
    .map(|events| events.iter().map(|event| event.summary()).collect())
}

fn started() -> Harness {
    let mut h = Harness::from_yaml(LOAN);
    h.start(json!({}));
    h
}

#[test]
fn a_signal_completes_the_step_waiting_for_it_with_its_payload() {
    let mut h = started();
    assert_eq!(
        h.complete("open", json!({})),
        ["StepCompleted open#1", "SignalAwaited document#1"]
    );
    assert_eq!(h.step("document").status(), StepStatus::Waiting);
    assert_eq!(
        signal(&mut h, "document.uploaded", json!({"url": "s3://doc"})).unwrap(),
        [
            "SignalReceived",
            "SignalConsumed document",
            "StepCompleted document#1",
            "StepScheduled decide#1"
        ]
    );
    assert_eq!(
        h.step("document").output(),
        Some(&json!({"url": "s3://doc"}))
    );
    assert!(h.state.signals.is_empty());
}

#[test]
fn a_signal_sent_before_the_step_is_reached_is_kept_and_taken_when_it_is() {
    let mut h = started();
    assert_eq!(
        signal(&mut h, "document.uploaded", json!({"url": "s3://early"})).unwrap(),
        ["SignalReceived"]
    );
    assert_eq!(h.state.signals.len(), 1);
    assert_eq!(
        h.complete("open", json!({})),
        [
            "StepCompleted open#1",
            "SignalAwaited document#1",
            "SignalConsumed document",
            "StepCompleted document#1",
            "StepScheduled decide#1"
        ]
    );
    assert_eq!(
        h.step("document").output(),
        Some(&json!({"url": "s3://early"}))
    );
    assert!(h.state.signals.is_empty());
}

#[test]
fn each_signal_is_taken_once_and_a_second_one_stays_kept() {
    let mut h = started();
    signal(&mut h, "document.uploaded", json!({"url": "first"})).unwrap();
    signal(&mut h, "document.uploaded", json!({"url": "second"})).unwrap();
    h.complete("open", json!({}));
    assert_eq!(h.step("document").output(), Some(&json!({"url": "first"})));
    assert_eq!(h.state.signals.len(), 1);
    assert_eq!(*h.state.signals[0].1, json!({"url": "second"}));
}

#[test]
fn an_unknown_signal_is_refused_with_the_names_the_workflow_waits_for() {
    let mut h = started();
    let refused = signal(&mut h, "document.uploded", json!({})).unwrap_err();
    assert_eq!(
        refused,
        DomainError::UnknownSignal {
            name: "document.uploded".to_owned(),
            expected: vec!["document.uploaded".to_owned()],
        }
    );
    assert_eq!(
        refused.to_string(),
        "this workflow waits for no signal `document.uploded`; it waits for: document.uploaded"
    );
    assert!(h.state.signals.is_empty());
}

#[test]
fn a_payload_that_breaks_the_schema_is_refused_and_nothing_is_kept() {
    let mut h = started();
    let refused = signal(&mut h, "document.uploaded", json!({"path": "x"})).unwrap_err();
    assert!(
        matches!(&refused, DomainError::SignalRejected { name, problems } if name == "document.uploaded" && problems.len() == 1),
        "{refused:?}"
    );
    assert!(h.state.signals.is_empty());
}

#[test]
fn a_finished_workflow_refuses_signals() {
    let mut h = started();
    h.then(Command::Cancel { compensate: false });
    assert_eq!(
        signal(&mut h, "document.uploaded", json!({"url": "late"})).unwrap_err(),
        DomainError::NotRunning {
            status: InstanceStatus::Cancelled
        }
    );
}

#[test]
fn no_signal_in_time_fails_the_step_and_the_saga_undoes_what_was_done() {
    let mut h = started();
    h.complete("open", json!({}));
    assert_eq!(
        h.fire_next_timer().unwrap(),
        [
            "StepTimedOut document#1",
            "CompensationStarted",
            "CompensationScheduled open#1"
        ]
    );
    assert_eq!(
        h.step("document").failure(),
        Some(&domain::instance::FailureKind::TimedOut(
            TimeoutKind::Signal
        ))
    );
}

#[test]
fn with_on_timeout_skip_no_signal_in_time_skips_the_step() {
    let yaml = LOAN
        .replace("timeout: 168h", "timeout: 168h\n    on_timeout: skip")
        .replace(
            "needs: [document]",
            "needs: [open, document]\n    join: any",
        );
    let yaml = yaml.replace(
        "${ steps.document.output.url }",
        "${ steps.document.status }",
    );
    let mut h = Harness::from_yaml(&yaml);
    h.start(json!({}));
    h.complete("open", json!({}));
    assert_eq!(
        h.fire_next_timer().unwrap(),
        ["StepSkipped document", "StepScheduled decide#1"]
    );
}

#[test]
fn replaying_the_history_gives_the_live_state() {
    let mut h = started();
    signal(&mut h, "document.uploaded", json!({"url": "a"})).unwrap();
    signal(&mut h, "document.uploaded", json!({"url": "b"})).unwrap();
    h.complete("open", json!({}));
    let replayed = h
        .history
        .iter()
        .fold(Harness::from_yaml(LOAN).state, evolve);
    assert_eq!(replayed.signals, h.state.signals);
    assert_eq!(replayed.steps, h.state.steps);
    assert_eq!(replayed.version, h.state.version);
}
