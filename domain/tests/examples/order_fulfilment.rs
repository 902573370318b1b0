//! `workflows/order-fulfilment.yaml`: reserve, (approve,) charge, ship;
//! refunds and releases on the way back.

use domain::instance::{Actor, Command, DomainError, InstanceStatus, StepStatus};
use domain::testkit::Harness;
use serde_json::{Value, json};

use crate::support::{
    approve, compensation_input, fire_next_timer, harness, reject, scheduled_input, status,
    step_ids, undo_last,
};

const WORKFLOW: &str = "order-fulfilment.yaml";

fn order(amount: i64) -> Value {
    json!({
        "order_id": "ord-1001",
        "customer_id": "cus-42",
        "amount": amount,
        "currency": "EUR",
        "items": [{"sku": "KB-01", "quantity": 2}],
        "shipping_address": {
            "name": "Ada Lovelace",
            "street": "12 St James's Square",
            "city": "London",
            "country": "GB"
        }
    })
}

fn manager() -> Actor {
    Actor::new("maria", &["manager"])
}

/// Starts an order and reserves its stock.
fn reserved_order(amount: i64) -> Harness {
    let mut h = harness(WORKFLOW);
    h.start(order(amount));
    h.complete(
        "reserve_inventory",
        json!({"status": 201, "body": {"reservation_id": "res-7"}}),
    );
    h
}

#[test]
fn is_a_valid_workflow() {
    let h = harness(WORKFLOW);
    assert_eq!(h.state.definition.name, "order-fulfilment");
    assert_eq!(
        step_ids(&h),
        [
            "reserve_inventory",
            "manager_approval",
            "charge_payment",
            "ship_order",
            "confirm_order"
        ]
    );
}

#[test]
fn refuses_an_order_without_items() {
    let mut h = harness(WORKFLOW);
    let mut input = order(250);
    input["items"] = json!([]);
    let refused = h.when(Command::StartWorkflow {
        input,
        started_by: "shop".to_owned(),
        start_at: None,
    });
    assert!(
        matches!(&refused, Err(DomainError::InputRejected { problems }) if problems.len() == 1 && problems[0].starts_with("/items")),
        "{refused:?}"
    );
    assert_eq!(h.state.status, InstanceStatus::NotStarted);
}

#[test]
fn ships_a_small_order_without_approval() {
    let mut h = harness(WORKFLOW);
    assert_eq!(
        h.start(order(250)),
        ["WorkflowStarted", "StepScheduled reserve_inventory#1"]
    );
    assert_eq!(
        scheduled_input(&h, "reserve_inventory"),
        json!({
            "method": "POST",
            "url": "http://inventory.internal:8080/reservations",
            "headers": {"Content-Type": "application/json"},
            "body": {"order_id": "ord-1001", "items": [{"sku": "KB-01", "quantity": 2}]}
        })
    );
    assert_eq!(
        h.complete(
            "reserve_inventory",
            json!({"status": 201, "body": {"reservation_id": "res-7"}})
        ),
        [
            "StepCompleted reserve_inventory#1",
            "StepSkipped manager_approval",
            "StepScheduled charge_payment#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "charge_payment"),
        json!({
            "order_id": "ord-1001",
            "customer_id": "cus-42",
            "amount": 250,
            "currency": "EUR",
            "reference": "order ord-1001 (01234567-89ab-cdef-0123-456789abcdef)"
        })
    );
    assert_eq!(
        h.complete("charge_payment", json!({"charge_id": "ch-88"})),
        [
            "StepCompleted charge_payment#1",
            "StepScheduled ship_order#1"
        ]
    );
    assert_eq!(
        h.complete(
            "ship_order",
            json!({"shipment_id": "shp-5", "tracking_number": "1Z999AA1"})
        ),
        [
            "StepCompleted ship_order#1",
            "StepScheduled confirm_order#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "confirm_order")["url"],
        "http://orders.internal:8080/orders/ord-1001/confirmation"
    );
    assert_eq!(
        h.complete("confirm_order", json!({"status": 200, "body": {}})),
        ["StepCompleted confirm_order#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output,
        Some(json!({
            "order_id": "ord-1001",
            "approval": "skipped",
            "charge_id": "ch-88",
            "tracking_number": "1Z999AA1"
        }))
    );
}

#[test]
fn charges_a_large_order_once_a_manager_approves() {
    let mut h = harness(WORKFLOW);
    h.start(order(1500));
    assert_eq!(
        h.complete(
            "reserve_inventory",
            json!({"status": 201, "body": {"reservation_id": "res-7"}})
        ),
        [
            "StepCompleted reserve_inventory#1",
            "ApprovalRequested manager_approval#1"
        ]
    );
    let clerk = Actor::new("carl", &["clerk"]);
    assert_eq!(
        h.approve("manager_approval", &clerk),
        Err(DomainError::NotAnApprover {
            step: "manager_approval".into(),
            actor: "carl".to_owned()
        })
    );
    assert_eq!(
        approve(&mut h, "manager_approval", &manager()),
        [
            "ApprovalGranted manager_approval",
            "StepCompleted manager_approval#1",
            "StepScheduled charge_payment#1"
        ]
    );
    h.complete("charge_payment", json!({"charge_id": "ch-89"}));
    h.complete(
        "ship_order",
        json!({"shipment_id": "shp-6", "tracking_number": "1Z999AA2"}),
    );
    assert_eq!(
        h.complete("confirm_order", json!({"status": 200, "body": {}})),
        ["StepCompleted confirm_order#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output.as_ref().map(|output| &output["approval"]),
        Some(&json!("completed"))
    );
}

#[test]
fn refunds_and_releases_when_shipping_fails() {
    let mut h = reserved_order(250);
    h.complete("charge_payment", json!({"charge_id": "ch-88"}));
    assert_eq!(
        h.fail("ship_order", true),
        ["StepFailed ship_order#1", "StepRetryScheduled ship_order#2"]
    );
    assert_eq!(fire_next_timer(&mut h), ["StepScheduled ship_order#2"]);
    assert_eq!(
        h.fail("ship_order", false),
        [
            "StepFailed ship_order#2",
            "CompensationStarted",
            "CompensationScheduled charge_payment#1"
        ]
    );
    assert_eq!(
        compensation_input(&h, "charge_payment"),
        json!({"refund_of": "ch-88", "amount": 250, "currency": "EUR", "reason": "order not fulfilled"})
    );
    assert_eq!(
        h.complete_compensation("charge_payment"),
        [
            "CompensationCompleted charge_payment#1",
            "CompensationScheduled reserve_inventory#1"
        ]
    );
    assert_eq!(
        compensation_input(&h, "reserve_inventory"),
        json!({"method": "DELETE", "url": "http://inventory.internal:8080/reservations/res-7"})
    );
    undo_last(&mut h, "reserve_inventory");
    assert_eq!(status(&h, "confirm_order"), StepStatus::Pending);
}

#[test]
fn releases_the_stock_when_the_manager_rejects() {
    let mut h = reserved_order(1500);
    assert_eq!(
        reject(
            &mut h,
            "manager_approval",
            &manager(),
            "customer is on the fraud watch list"
        ),
        [
            "ApprovalRejected manager_approval",
            "StepFailed manager_approval#1",
            "CompensationStarted",
            "CompensationScheduled reserve_inventory#1"
        ]
    );
    undo_last(&mut h, "reserve_inventory");
    assert_eq!(status(&h, "charge_payment"), StepStatus::Pending);
}

#[test]
fn releases_the_stock_when_no_manager_decides_within_a_day() {
    let mut h = reserved_order(1500);
    let started = h.now;
    // The reservation's 30s deadline passes: it already answered, so nothing happens.
    assert_eq!(fire_next_timer(&mut h), Vec::<String>::new());
    assert_eq!(
        fire_next_timer(&mut h),
        [
            "StepTimedOut manager_approval#1",
            "CompensationStarted",
            "CompensationScheduled reserve_inventory#1"
        ]
    );
    assert_eq!(h.now - started, chrono::Duration::hours(24));
    undo_last(&mut h, "reserve_inventory");
}

#[test]
fn releases_the_stock_when_the_customer_cancels_while_awaiting_approval() {
    let mut h = reserved_order(1500);
    assert_eq!(
        h.then(Command::Cancel { compensate: true }),
        [
            "CancellationRequested",
            "CompensationStarted",
            "CompensationScheduled reserve_inventory#1"
        ]
    );
    assert_eq!(
        h.complete_compensation("reserve_inventory"),
        [
            "CompensationCompleted reserve_inventory#1",
            "WorkflowCancelled"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Cancelled);
    // The approval's deadline still fires later and finds nothing to do.
    assert_eq!(fire_next_timer(&mut h), Vec::<String>::new());
    assert_eq!(fire_next_timer(&mut h), Vec::<String>::new());
    assert!(h.timers.is_empty());
    assert_eq!(h.state.status, InstanceStatus::Cancelled);
}
