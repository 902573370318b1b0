//! `workflows/loan-approval.yaml`: a credit check, an underwriter's decision
//! for large or risky loans, the payout.

use domain::instance::{Actor, DomainError, InstanceStatus, StepStatus};
use domain::testkit::Harness;
use serde_json::{Value, json};

use crate::support::{
    approve, compensation_input, fire_next_timer, harness, reject, scheduled_input, status,
    step_ids, undo_last,
};

const WORKFLOW: &str = "loan-approval.yaml";

fn loan(amount: i64) -> Value {
    json!({
        "applicant_id": "app-77",
        "amount": amount,
        "term_months": 36,
        "iban": "DE89370400440532013000"
    })
}

fn underwriter() -> Actor {
    Actor::new("uma", &["underwriter"])
}

/// Starts an application, registers it and runs the credit check.
fn checked_loan(amount: i64, score: i64) -> (Harness, Vec<String>) {
    let mut h = harness(WORKFLOW);
    assert_eq!(
        h.start(loan(amount)),
        ["WorkflowStarted", "StepScheduled open_application#1"]
    );
    assert_eq!(
        h.complete(
            "open_application",
            json!({"status": 201, "body": {"application_id": "la-1"}})
        ),
        [
            "StepCompleted open_application#1",
            "StepScheduled credit_check#1"
        ]
    );
    let routed = h.complete("credit_check", json!({"score": score, "bureau": "schufa"}));
    (h, routed)
}

#[test]
fn is_a_valid_workflow() {
    let h = harness(WORKFLOW);
    assert_eq!(h.state.definition.name, "loan-approval");
    assert_eq!(
        step_ids(&h),
        [
            "open_application",
            "credit_check",
            "auto_approve",
            "underwriter_review",
            "disburse"
        ]
    );
}

#[test]
fn pays_out_a_small_loan_to_a_good_applicant_automatically() {
    let (mut h, routed) = checked_loan(8000, 780);
    assert_eq!(
        routed,
        [
            "StepCompleted credit_check#1",
            "StepScheduled auto_approve#1",
            "StepCompleted auto_approve#1",
            "StepSkipped underwriter_review",
            "StepScheduled disburse#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "disburse"),
        json!({"application_id": "la-1", "amount": 8000, "iban": "DE89370400440532013000"})
    );
    assert_eq!(
        h.complete("disburse", json!({"transfer_id": "tr-5"})),
        ["StepCompleted disburse#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output,
        Some(json!({
            "application_id": "la-1",
            "score": 780,
            "decided_by": "policy:small-loan",
            "payout": "tr-5"
        }))
    );
}

#[test]
fn pays_out_a_large_loan_once_an_underwriter_approves() {
    let (mut h, routed) = checked_loan(50_000, 780);
    assert_eq!(
        routed,
        [
            "StepCompleted credit_check#1",
            "StepSkipped auto_approve",
            "ApprovalRequested underwriter_review#1"
        ]
    );
    let teller = Actor::new("tom", &["teller"]);
    assert_eq!(
        h.approve("underwriter_review", &teller),
        Err(DomainError::NotAnApprover {
            step: "underwriter_review".into(),
            actor: "tom".to_owned(),
            approvers: vec!["role:underwriter".to_owned()]
        })
    );
    assert_eq!(
        approve(&mut h, "underwriter_review", &underwriter()),
        [
            "ApprovalGranted underwriter_review",
            "StepCompleted underwriter_review#1",
            "StepScheduled disburse#1"
        ]
    );
    assert_eq!(
        h.complete("disburse", json!({"transfer_id": "tr-6"})),
        ["StepCompleted disburse#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output.as_ref().map(|output| &output["decided_by"]),
        Some(&json!("uma"))
    );
}

#[test]
fn declines_a_small_loan_with_a_poor_score_when_the_underwriter_rejects() {
    let (mut h, routed) = checked_loan(8000, 610);
    assert_eq!(
        routed,
        [
            "StepCompleted credit_check#1",
            "StepSkipped auto_approve",
            "ApprovalRequested underwriter_review#1"
        ]
    );
    assert_eq!(
        reject(
            &mut h,
            "underwriter_review",
            &underwriter(),
            "two defaults in 2025"
        ),
        [
            "ApprovalRejected underwriter_review",
            "StepFailed underwriter_review#1",
            "CompensationStarted",
            "CompensationScheduled open_application#1"
        ]
    );
    assert_eq!(
        compensation_input(&h, "open_application"),
        json!({"method": "POST", "url": "http://loans.internal:8080/applications/la-1/decline"})
    );
    undo_last(&mut h, "open_application");
    assert_eq!(status(&h, "disburse"), StepStatus::Pending);
}

#[test]
fn declines_the_application_when_no_underwriter_decides_within_three_days() {
    let (mut h, _) = checked_loan(50_000, 780);
    let started = h.now;
    // The 1m deadlines of the application and the credit check pass harmlessly.
    assert_eq!(fire_next_timer(&mut h), Vec::<String>::new());
    assert_eq!(fire_next_timer(&mut h), Vec::<String>::new());
    assert_eq!(
        fire_next_timer(&mut h),
        [
            "StepTimedOut underwriter_review#1",
            "CompensationStarted",
            "CompensationScheduled open_application#1"
        ]
    );
    assert_eq!(h.now - started, chrono::Duration::hours(72));
    // Too late: the approval is no longer pending.
    assert!(matches!(
        h.approve("underwriter_review", &underwriter()),
        Err(DomainError::NotRunning {
            status: InstanceStatus::Compensating
        })
    ));
    undo_last(&mut h, "open_application");
}

#[test]
fn declines_the_application_when_the_credit_bureau_stays_down() {
    let mut h = harness(WORKFLOW);
    h.start(loan(8000));
    h.complete(
        "open_application",
        json!({"status": 201, "body": {"application_id": "la-1"}}),
    );
    for attempt in 1..=3 {
        assert_eq!(
            h.fail("credit_check", true),
            [
                format!("StepFailed credit_check#{attempt}"),
                format!("StepRetryScheduled credit_check#{}", attempt + 1)
            ]
        );
        assert_eq!(
            fire_next_timer(&mut h),
            [format!("StepScheduled credit_check#{}", attempt + 1)]
        );
    }
    assert_eq!(
        h.fail("credit_check", true),
        [
            "StepFailed credit_check#4",
            "CompensationStarted",
            "CompensationScheduled open_application#1"
        ]
    );
    undo_last(&mut h, "open_application");
    assert_eq!(status(&h, "auto_approve"), StepStatus::Pending);
    assert_eq!(status(&h, "underwriter_review"), StepStatus::Pending);
}
