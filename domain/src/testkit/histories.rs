//! Canned histories: documented event streams that bring one small workflow
//! ([`LIFECYCLE`]) to a named situation, so a test starts there with
//! [`Harness::given`] instead of driving it there command by command. Each
//! is exactly what `decide` decides on the way (`tests/histories.rs` checks
//! it), so none can drift from the rules.
//!
//! ```text
//! let mut h = histories::lifecycle().given(histories::failed());
//! h.then(Command::RetryStep { step: "c".into() })
//!     == ["StepRetryRequested c", "StepScheduled c#2"]
//! ```

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::harness::{Harness, INSTANCE, epoch};
use crate::ids::StepId;
use crate::instance::{CompensationCause, Event, InstanceStatus, StepError};

/// The workflow of every history here: a task `a` with a one-minute timeout
/// and an undo, the approval `b` (role `boss`) after it, then the task `c`,
/// whose failure fails the instance (`on_error: fail`). Nothing is retried.
pub const LIFECYCLE: &str = r#"
name: lifecycle
version: 1
defaults:
  retry: { max_attempts: 1 }
steps:
  a:
    type: task
    queue: q
    timeout: 1m
    compensate: { type: task, queue: undo, retry: { max_attempts: 1 } }
  b:
    type: approval
    needs: [a]
    approvers: [role:boss]
  c:
    type: task
    queue: q
    needs: [b]
    on_error: fail
"#;

/// A harness for [`LIFECYCLE`] before its start: add a history with `given`.
pub fn lifecycle() -> Harness {
    Harness::from_yaml(LIFECYCLE)
}

/// The history that brings [`LIFECYCLE`] to `status`.
pub fn in_status(status: InstanceStatus) -> Vec<Event> {
    match status {
        InstanceStatus::NotStarted => Vec::new(),
        InstanceStatus::Scheduled => scheduled_later(),
        InstanceStatus::Running => running(),
        InstanceStatus::Paused => paused(),
        InstanceStatus::Compensating => compensating(),
        InstanceStatus::Completed => completed(),
        InstanceStatus::Failed => failed(),
        InstanceStatus::Compensated => compensated(),
        InstanceStatus::CompensationFailed => compensation_failed(),
        InstanceStatus::Cancelled => cancelled(),
    }
}

/// Started by `test` with `{}`; `a` is dispatched, due within a minute.
///
/// ```text
/// WorkflowStarted
/// StepScheduled a#1      deadline 00:01:00
/// ```
pub fn running() -> Vec<Event> {
    vec![
        started(None),
        scheduled("a", Some(epoch() + Duration::minutes(1))),
    ]
}

/// Started by `test` with `{}` to run an hour later: nothing runs yet.
///
/// ```text
/// WorkflowStarted        start_at 01:00:00
/// ```
pub fn scheduled_later() -> Vec<Event> {
    vec![started(Some(epoch() + Duration::hours(1)))]
}

/// The lifecycle workflow started by `test` with `{}`, at once or later.
fn started(start_at: Option<DateTime<Utc>>) -> Event {
    Event::WorkflowStarted {
        definition: "lifecycle".to_owned(),
        version: 1,
        hash: lifecycle().state.definition.hash.clone(),
        input: json!({}),
        started_by: "test".to_owned(),
        deadline: None,
        sla_due: None,
        start_at,
    }
}

/// Paused while `a` is in flight.
///
/// ```text
/// running()
/// WorkflowPaused
/// ```
pub fn paused() -> Vec<Event> {
    [running(), vec![Event::WorkflowPaused]].concat()
}

/// Cancelled without compensation while `a` was in flight.
///
/// ```text
/// running()
/// CancellationRequested  compensate: false
/// WorkflowCancelled
/// ```
pub fn cancelled() -> Vec<Event> {
    let cancel = vec![
        Event::CancellationRequested { compensate: false },
        Event::WorkflowCancelled,
    ];
    [running(), cancel].concat()
}

/// `a` completed with `{"id": 1}`; the approval `b` waits for a boss.
///
/// ```text
/// running()
/// StepCompleted a#1      {"id": 1}
/// ApprovalRequested b#1  approvers [role:boss], no deadline
/// ```
pub fn awaiting_approval() -> Vec<Event> {
    let approval = vec![
        completed_with("a", json!({"id": 1})),
        Event::ApprovalRequested {
            step: step("b"),
            attempt: 1,
            approvers: vec!["role:boss".to_owned()],
            due_at: None,
        },
    ];
    [running(), approval].concat()
}

/// `ann` approved `b`; `c` is dispatched.
///
/// ```text
/// awaiting_approval()
/// ApprovalGranted b      by ann
/// StepCompleted b#1      {"approved": true, "by": "ann", "comment": null}
/// StepScheduled c#1
/// ```
pub fn approved() -> Vec<Event> {
    let approval = vec![
        Event::ApprovalGranted {
            step: step("b"),
            by: "ann".to_owned(),
            comment: None,
        },
        completed_with("b", json!({"approved": true, "by": "ann", "comment": null})),
        scheduled("c", None),
    ];
    [awaiting_approval(), approval].concat()
}

/// `c` completed with `{}`: the workflow completed.
///
/// ```text
/// approved()
/// StepCompleted c#1      {}
/// WorkflowCompleted      {"c": {}}
/// ```
pub fn completed() -> Vec<Event> {
    let end = vec![
        completed_with("c", json!({})),
        Event::WorkflowCompleted {
            output: json!({"c": {}}),
        },
    ];
    [approved(), end].concat()
}

/// `c` failed for good ("c broke"): `on_error: fail` failed the instance,
/// which waits for an operator's retry or skip of `c`.
///
/// ```text
/// approved()
/// StepFailed c#1         "c broke", not retryable
/// WorkflowFailed
/// ```
pub fn failed() -> Vec<Event> {
    let end = vec![
        Event::StepFailed {
            step: step("c"),
            attempt: 1,
            error: StepError::permanent("c broke"),
        },
        Event::WorkflowFailed {
            error: "step `c` failed: c broke".to_owned(),
        },
    ];
    [approved(), end].concat()
}

/// `ann` rejected `b`: the instance compensates, `a`'s undo is in flight.
///
/// ```text
/// awaiting_approval()
/// ApprovalRejected b     by ann
/// StepFailed b#1         "rejected by ann", not retryable
/// CompensationStarted    step_failed b
/// CompensationScheduled a#1
/// ```
pub fn compensating() -> Vec<Event> {
    let rejection = vec![
        Event::ApprovalRejected {
            step: step("b"),
            by: "ann".to_owned(),
            comment: None,
        },
        Event::StepFailed {
            step: step("b"),
            attempt: 1,
            error: StepError::permanent("rejected by ann"),
        },
        Event::CompensationStarted {
            cause: CompensationCause::StepFailed { step: step("b") },
        },
        Event::CompensationScheduled {
            step: step("a"),
            attempt: 1,
            input: json!({}),
            idempotency_key: format!("{INSTANCE}:a:compensate"),
            deadline: None,
        },
    ];
    [awaiting_approval(), rejection].concat()
}

/// `a` was undone: the workflow is compensated.
///
/// ```text
/// compensating()
/// CompensationCompleted a#1
/// WorkflowCompensated
/// ```
pub fn compensated() -> Vec<Event> {
    let end = vec![
        Event::CompensationCompleted {
            step: step("a"),
            attempt: 1,
            output: Value::Null,
        },
        Event::WorkflowCompensated,
    ];
    [compensating(), end].concat()
}

/// `a`'s undo failed for good ("undo a broke"): the instance waits for an
/// operator's retry or skip of that compensation.
///
/// ```text
/// compensating()
/// CompensationFailed a#1   "undo a broke", not retryable
/// WorkflowCompensationFailed [a]
/// ```
pub fn compensation_failed() -> Vec<Event> {
    let end = vec![
        Event::CompensationFailed {
            step: step("a"),
            attempt: 1,
            error: StepError::permanent("undo a broke"),
        },
        Event::WorkflowCompensationFailed {
            steps: vec![step("a")],
        },
    ];
    [compensating(), end].concat()
}

fn step(id: &str) -> StepId {
    StepId::from(id)
}

/// Attempt 1 of a task step without input.
fn scheduled(id: &str, deadline: Option<chrono::DateTime<chrono::Utc>>) -> Event {
    Event::StepScheduled {
        step: step(id),
        attempt: 1,
        input: json!({}),
        idempotency_key: format!("{INSTANCE}:{id}"),
        deadline,
        wake_at: None,
    }
}

fn completed_with(id: &str, output: Value) -> Event {
    Event::StepCompleted {
        step: step(id),
        attempt: 1,
        output,
    }
}
