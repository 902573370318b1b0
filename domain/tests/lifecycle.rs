//! Every (instance status, command) pair: what `decide` does with it.
//! `E` = accepted with events, `-` = ignored (duplicate or stale: no events),
//! anything else names the `DomainError` it is refused with.

use domain::StepId;
use domain::instance::{Actor, Command, DomainError, InstanceStatus, StepError, Timer};
use domain::testkit::{Harness, histories};
use serde_json::json;

fn boss() -> Actor {
    Actor::new("ann", &["boss"])
}

/// The lifecycle workflow (`histories::LIFECYCLE`) in `status`; `a` is in
/// flight where that is possible.
fn given(status: InstanceStatus) -> Harness {
    let h = histories::lifecycle().given(histories::in_status(status));
    assert_eq!(h.state.status, status, "histories::in_status({status})");
    h
}

fn commands() -> Vec<(&'static str, Command)> {
    let a = || StepId::from("a");
    vec![
        (
            "start",
            Command::StartWorkflow {
                input: json!({}),
                started_by: "t".into(),
                start_at: None,
            },
        ),
        (
            "started",
            Command::RecordStepStarted {
                step: a(),
                attempt: 1,
                worker: "w".into(),
            },
        ),
        (
            "complete",
            Command::CompleteStep {
                step: a(),
                attempt: 1,
                output: json!({}),
            },
        ),
        (
            "fail",
            Command::FailStep {
                step: a(),
                attempt: 1,
                error: StepError::retryable("x"),
            },
        ),
        (
            "complete_undo",
            Command::CompleteCompensation {
                step: a(),
                attempt: 1,
                output: json!({}),
            },
        ),
        (
            "fail_undo",
            Command::FailCompensation {
                step: a(),
                attempt: 1,
                error: StepError::permanent("x"),
            },
        ),
        (
            "deadline",
            Command::FireTimer(Timer::StepDeadline {
                step: a(),
                attempt: 1,
            }),
        ),
        (
            "approve",
            Command::Approve {
                step: "b".into(),
                actor: boss(),
                comment: None,
            },
        ),
        (
            "reject",
            Command::Reject {
                step: "b".into(),
                actor: boss(),
                comment: None,
            },
        ),
        ("pause", Command::Pause),
        ("resume", Command::Resume),
        ("cancel", Command::Cancel { compensate: true }),
        ("abort", Command::Cancel { compensate: false }),
        ("retry_c", Command::RetryStep { step: "c".into() }),
        ("retry_a", Command::RetryStep { step: a() }),
        (
            "skip_c",
            Command::SkipStep {
                step: "c".into(),
                output: json!({}),
            },
        ),
        (
            "skip_a",
            Command::SkipStep {
                step: a(),
                output: json!({}),
            },
        ),
    ]
}

fn outcome(result: Result<Vec<domain::instance::Event>, DomainError>) -> String {
    match result {
        Ok(events) if events.is_empty() => "-".to_owned(),
        Ok(_) => "E".to_owned(),
        Err(error) => format!("{error:?}")
            .split([' ', '{', '('])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// One row per status, one column per command of `commands()`.
#[rustfmt::skip]
const TABLE: &[(InstanceStatus, [&str; 17])] = {
    use InstanceStatus::*;
    &[
        //                     start              started        complete       fail           complete_undo   fail_undo      deadline       approve                reject                 pause          resume         cancel           abort            retry_c          retry_a          skip_c           skip_a
        (NotStarted,          ["E",               "NotStarted",  "NotStarted",  "NotStarted",  "NotStarted",   "NotStarted",  "NotStarted",  "NotStarted",          "NotStarted",          "NotStarted",  "NotStarted",  "NotStarted",    "NotStarted",    "NotStarted",    "NotStarted",    "NotStarted",    "NotStarted"]),
        (Scheduled,           ["AlreadyStarted",  "-",           "-",           "-",           "-",            "-",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "E",             "E",             "NotRetryable",  "NotRetryable",  "NotSkippable",  "NotSkippable"]),
        (Running,             ["AlreadyStarted",  "E",           "E",           "E",           "-",            "-",           "E",           "ApprovalNotPending",  "ApprovalNotPending",  "E",           "NotPaused",   "E",             "E",             "NotRetryable",  "NotRetryable",  "E",             "NotSkippable"]),
        (Paused,              ["AlreadyStarted",  "E",           "E",           "E",           "-",            "-",           "E",           "ApprovalNotPending",  "ApprovalNotPending",  "NotRunning",  "E",           "E",             "E",             "NotRetryable",  "NotRetryable",  "E",             "NotSkippable"]),
        (Compensating,        ["AlreadyStarted",  "-",           "-",           "-",           "E",            "E",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "CannotCancel",  "CannotCancel",  "NotRetryable",  "NotRetryable",  "NotSkippable",  "NotSkippable"]),
        (Completed,           ["AlreadyStarted",  "-",           "-",           "-",           "-",            "-",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "CannotCancel",  "CannotCancel",  "NotRetryable",  "NotRetryable",  "NotSkippable",  "NotSkippable"]),
        (Failed,              ["AlreadyStarted",  "-",           "-",           "-",           "-",            "-",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "CannotCancel",  "CannotCancel",  "E",             "NotRetryable",  "E",             "NotSkippable"]),
        (Compensated,         ["AlreadyStarted",  "-",           "-",           "-",           "-",            "-",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "CannotCancel",  "CannotCancel",  "NotRetryable",  "NotRetryable",  "NotSkippable",  "NotSkippable"]),
        (CompensationFailed,  ["AlreadyStarted",  "-",           "-",           "-",           "-",            "-",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "CannotCancel",  "CannotCancel",  "NotRetryable",  "E",             "NotSkippable",  "E"]),
        (Cancelled,           ["AlreadyStarted",  "-",           "-",           "-",           "-",            "-",           "-",           "NotRunning",          "NotRunning",          "NotRunning",  "NotPaused",   "CannotCancel",  "CannotCancel",  "NotRetryable",  "NotRetryable",  "NotSkippable",  "NotSkippable"]),
    ]
};

#[test]
fn every_status_command_pair_is_decided_as_the_table_says() {
    let mut mismatches = Vec::new();
    for (status, expected) in TABLE {
        for ((name, command), expected) in commands().into_iter().zip(expected) {
            let mut h = given(*status);
            let before = h.state.clone();
            let actual = outcome(h.when(command));
            if actual != *expected {
                mismatches.push(format!(
                    "{status} + {name}: expected {expected}, got {actual}"
                ));
            }
            if actual != "E" {
                assert_eq!(
                    h.state.version, before.version,
                    "{status} + {name} changed the state"
                );
            }
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

#[test]
fn a_refused_command_says_why() {
    let mut h = given(InstanceStatus::Completed);
    let error = h.when(Command::Pause).unwrap_err();
    assert_eq!(error.to_string(), "the workflow is completed, not running");
    let mut h = given(InstanceStatus::Running);
    h.complete("a", json!({}));
    let stranger = Actor::new("bob", &["clerk"]);
    let error = h.approve("b", &stranger).unwrap_err();
    assert_eq!(
        error,
        DomainError::NotAnApprover {
            step: "b".into(),
            actor: "bob".into()
        }
    );
}

#[test]
fn operator_retry_runs_a_failed_step_once_more_and_in_flight_results_are_kept() {
    let mut h = given(InstanceStatus::Failed);
    assert_eq!(
        h.then(Command::RetryStep { step: "c".into() }),
        ["StepRetryRequested c", "StepScheduled c#2"]
    );
    assert_eq!(
        h.complete("c", json!({"done": true})),
        ["StepCompleted c#2", "WorkflowCompleted"]
    );
}

#[test]
fn operator_skip_of_a_failed_step_completes_the_workflow_with_the_given_output() {
    let mut h = given(InstanceStatus::Failed);
    let events = h.then(Command::SkipStep {
        step: "c".into(),
        output: json!({"manual": true}),
    });
    assert_eq!(events, ["StepSkipped c", "WorkflowCompleted"]);
    assert_eq!(h.state.output, Some(json!({"c": {"manual": true}})));
}

#[test]
fn pause_holds_back_new_steps_until_resume() {
    let mut h = given(InstanceStatus::Paused);
    assert_eq!(h.complete("a", json!({})), ["StepCompleted a#1"]);
    assert_eq!(
        h.then(Command::Resume),
        ["WorkflowResumed", "ApprovalRequested b#1"]
    );
}

#[test]
fn cancel_with_compensation_undoes_and_ends_cancelled() {
    let mut h = given(InstanceStatus::Running);
    h.complete("a", json!({"id": 1}));
    assert_eq!(
        h.then(Command::Cancel { compensate: true }),
        [
            "CancellationRequested",
            "CompensationStarted",
            "CompensationScheduled a#1"
        ]
    );
    assert_eq!(
        h.complete_compensation("a"),
        ["CompensationCompleted a#1", "WorkflowCancelled"]
    );
}

#[test]
fn a_failed_compensation_waits_for_an_operator_who_can_retry_or_skip_it() {
    let mut h = given(InstanceStatus::CompensationFailed);
    assert_eq!(
        h.then(Command::RetryStep { step: "a".into() }),
        ["CompensationRetryRequested a", "CompensationScheduled a#2"]
    );
    assert_eq!(
        h.fail_compensation("a", true),
        ["CompensationFailed a#2", "WorkflowCompensationFailed"]
    );
    assert_eq!(
        h.then(Command::SkipStep {
            step: "a".into(),
            output: json!(null)
        }),
        ["CompensationSkipped a", "WorkflowCompensated"]
    );
}

#[test]
fn a_timed_out_attempt_without_retries_left_compensates() {
    let mut h = given(InstanceStatus::Running);
    assert_eq!(
        h.fire_next_timer().unwrap(),
        [
            "StepTimedOut a#1",
            "CompensationStarted",
            "WorkflowCompensated"
        ]
    );
}
