//! The example workflows in `workflows/`, each driven through its success path
//! and its failure paths with exact event sequences.

use std::sync::Arc;

use domain::instance::{Actor, Command, DomainError, Event, InstanceStatus, StepStatus};
use domain::parse_workflow;
use domain::testkit::{Harness, describe};
use serde_json::{Value, json};

const ORDER_FULFILMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../workflows/order-fulfilment.yaml"
);
const TRAVEL_BOOKING: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../workflows/travel-booking.yaml"
);
const LOAN_APPROVAL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../workflows/loan-approval.yaml"
);
const DATA_PIPELINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../workflows/data-pipeline.yaml"
);

/// Reads and validates an example; panics with its problems when it is invalid.
fn harness(path: &str) -> Harness {
    let source = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    match parse_workflow(&source) {
        Ok(definition) => Harness::new(Arc::new(definition)),
        Err(problems) => panic!("{path} is invalid:\n{problems}"),
    }
}

/// The step ids in the definition's (topological) order.
fn step_ids(h: &Harness) -> Vec<&str> {
    h.state
        .definition
        .steps
        .iter()
        .map(|step| step.id.as_str())
        .collect()
}

fn status(h: &Harness, step: &str) -> StepStatus {
    let index = h.state.definition.step_index(step).expect("a step");
    h.state.steps[index].status()
}

fn approve(h: &mut Harness, step: &str, actor: &Actor) -> Vec<String> {
    match h.approve(step, actor) {
        Ok(events) => events.iter().map(describe).collect(),
        Err(error) => panic!("{} may not approve {step}: {error}", actor.id),
    }
}

fn reject(h: &mut Harness, step: &str, actor: &Actor, comment: &str) -> Vec<String> {
    h.then(Command::Reject {
        step: step.into(),
        actor: actor.clone(),
        comment: Some(comment.to_owned()),
    })
}

fn fire_next_timer(h: &mut Harness) -> Vec<String> {
    h.fire_next_timer().expect("a timer is set")
}

/// What the last `StepScheduled` of `step` asked of its worker.
fn scheduled_input(h: &Harness, step: &str) -> Value {
    h.history
        .iter()
        .rev()
        .find_map(|event| match event {
            Event::StepScheduled {
                step: id, input, ..
            } if id.as_str() == step => Some(input.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{step} was never scheduled"))
}

/// What the last `CompensationScheduled` of `step` asked of its worker.
fn compensation_input(h: &Harness, step: &str) -> Value {
    h.history
        .iter()
        .rev()
        .find_map(|event| match event {
            Event::CompensationScheduled {
                step: id, input, ..
            } if id.as_str() == step => Some(input.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{step} was never compensated"))
}

// ---------------------------------------------------------------- order-fulfilment

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
    let mut h = harness(ORDER_FULFILMENT);
    h.start(order(amount));
    h.complete(
        "reserve_inventory",
        json!({"status": 201, "body": {"reservation_id": "res-7"}}),
    );
    h
}

#[test]
fn order_fulfilment_is_a_valid_workflow() {
    let h = harness(ORDER_FULFILMENT);
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
fn order_fulfilment_refuses_an_order_without_items() {
    let mut h = harness(ORDER_FULFILMENT);
    let mut input = order(250);
    input["items"] = json!([]);
    let refused = h.when(Command::StartWorkflow {
        input,
        started_by: "shop".to_owned(),
    });
    assert!(
        matches!(&refused, Err(DomainError::InputRejected { problems }) if problems.len() == 1 && problems[0].starts_with("/items")),
        "{refused:?}"
    );
    assert_eq!(h.state.status, InstanceStatus::NotStarted);
}

#[test]
fn order_fulfilment_ships_a_small_order_without_approval() {
    let mut h = harness(ORDER_FULFILMENT);
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
fn order_fulfilment_charges_a_large_order_once_a_manager_approves() {
    let mut h = harness(ORDER_FULFILMENT);
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
fn order_fulfilment_refunds_and_releases_when_shipping_fails() {
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
    assert_eq!(
        h.complete_compensation("reserve_inventory"),
        [
            "CompensationCompleted reserve_inventory#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
    assert_eq!(status(&h, "confirm_order"), StepStatus::Pending);
}

#[test]
fn order_fulfilment_releases_the_stock_when_the_manager_rejects() {
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
    assert_eq!(
        h.complete_compensation("reserve_inventory"),
        [
            "CompensationCompleted reserve_inventory#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
    assert_eq!(status(&h, "charge_payment"), StepStatus::Pending);
}

#[test]
fn order_fulfilment_releases_the_stock_when_no_manager_decides_within_a_day() {
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
    assert_eq!(
        h.complete_compensation("reserve_inventory"),
        [
            "CompensationCompleted reserve_inventory#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
}

#[test]
fn order_fulfilment_releases_the_stock_when_the_customer_cancels_while_awaiting_approval() {
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

// ---------------------------------------------------------------- travel-booking

fn trip() -> Value {
    json!({
        "trip_id": "trip-9",
        "traveller": {"name": "Grace Hopper", "email": "grace@example.com"},
        "from": "JFK",
        "to": "LIS",
        "departure": "2026-05-01",
        "return": "2026-05-08"
    })
}

#[test]
fn travel_booking_is_a_valid_workflow() {
    let h = harness(TRAVEL_BOOKING);
    assert_eq!(h.state.definition.name, "travel-booking");
    assert_eq!(
        step_ids(&h),
        ["book_flight", "book_hotel", "book_car", "confirm_trip"]
    );
}

#[test]
fn travel_booking_confirms_the_trip_once_flight_hotel_and_car_are_booked() {
    let mut h = harness(TRAVEL_BOOKING);
    assert_eq!(
        h.start(trip()),
        [
            "WorkflowStarted",
            "StepScheduled book_flight#1",
            "StepScheduled book_hotel#1",
            "StepScheduled book_car#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "book_flight"),
        json!({
            "trip_id": "trip-9",
            "passenger": "Grace Hopper",
            "route": "JFK-LIS",
            "outbound": "2026-05-01",
            "inbound": "2026-05-08"
        })
    );
    assert_eq!(
        h.complete("book_hotel", json!({"confirmation": "HTL-314"})),
        ["StepCompleted book_hotel#1"]
    );
    assert_eq!(
        h.complete("book_car", json!({"rental_id": "CAR-2718"})),
        ["StepCompleted book_car#1"]
    );
    // The car supplier's worker delivers its result twice: the copy changes nothing.
    assert_eq!(
        h.complete("book_car", json!({"rental_id": "CAR-2718"})),
        Vec::<String>::new()
    );
    assert_eq!(
        h.complete("book_flight", json!({"pnr": "QX7PLM"})),
        [
            "StepCompleted book_flight#1",
            "StepScheduled confirm_trip#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "confirm_trip")["itinerary"],
        json!({"flight": "QX7PLM", "hotel": "HTL-314", "car": "CAR-2718"})
    );
    assert_eq!(
        h.complete("confirm_trip", json!({"message_id": "m-1"})),
        ["StepCompleted confirm_trip#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output,
        Some(
            json!({"trip_id": "trip-9", "flight": "QX7PLM", "hotel": "HTL-314", "car": "CAR-2718"})
        )
    );
}

#[test]
fn travel_booking_cancels_the_flight_and_the_car_when_no_hotel_is_available() {
    let mut h = harness(TRAVEL_BOOKING);
    h.start(trip());
    assert_eq!(
        h.complete("book_flight", json!({"pnr": "QX7PLM"})),
        ["StepCompleted book_flight#1"]
    );
    // The flight is cancelled at once; the car booking is still in flight.
    assert_eq!(
        h.fail("book_hotel", false),
        [
            "StepFailed book_hotel#1",
            "CompensationStarted",
            "CompensationScheduled book_flight#1"
        ]
    );
    // The car booking runs to its end, and is then cancelled too.
    assert_eq!(
        h.complete("book_car", json!({"rental_id": "CAR-2718"})),
        [
            "StepCompleted book_car#1",
            "CompensationScheduled book_car#1"
        ]
    );
    assert_eq!(
        compensation_input(&h, "book_car"),
        json!({"cancel_rental": "CAR-2718"})
    );
    assert_eq!(
        h.complete_compensation("book_flight"),
        ["CompensationCompleted book_flight#1"]
    );
    assert_eq!(
        h.complete_compensation("book_car"),
        ["CompensationCompleted book_car#1", "WorkflowCompensated"]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
    assert_eq!(status(&h, "confirm_trip"), StepStatus::Pending);
}

#[test]
fn travel_booking_waits_for_an_operator_when_a_car_cancellation_keeps_failing() {
    let mut h = harness(TRAVEL_BOOKING);
    h.start(trip());
    h.complete("book_flight", json!({"pnr": "QX7PLM"}));
    h.complete("book_hotel", json!({"confirmation": "HTL-314"}));
    h.complete("book_car", json!({"rental_id": "CAR-2718"}));
    // The three bookings are independent: they are cancelled in parallel.
    assert_eq!(
        h.fail("confirm_trip", false),
        [
            "StepFailed confirm_trip#1",
            "CompensationStarted",
            "CompensationScheduled book_flight#1",
            "CompensationScheduled book_hotel#1",
            "CompensationScheduled book_car#1"
        ]
    );
    assert_eq!(
        h.fail_compensation("book_car", true),
        [
            "CompensationFailed book_car#1",
            "CompensationRetryScheduled book_car#2"
        ]
    );
    assert_eq!(
        fire_next_timer(&mut h),
        ["CompensationScheduled book_car#2"]
    );
    assert_eq!(
        h.fail_compensation("book_car", false),
        ["CompensationFailed book_car#2"]
    );
    assert_eq!(
        h.complete_compensation("book_flight"),
        ["CompensationCompleted book_flight#1"]
    );
    assert_eq!(
        h.complete_compensation("book_hotel"),
        [
            "CompensationCompleted book_hotel#1",
            "WorkflowCompensationFailed"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::CompensationFailed);
    // An operator sorts the rental company out and has the cancellation retried.
    assert_eq!(
        h.then(Command::RetryStep {
            step: "book_car".into()
        }),
        [
            "CompensationRetryRequested book_car",
            "CompensationScheduled book_car#3"
        ]
    );
    assert_eq!(
        h.complete_compensation("book_car"),
        ["CompensationCompleted book_car#3", "WorkflowCompensated"]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
}

// ---------------------------------------------------------------- loan-approval

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
    let mut h = harness(LOAN_APPROVAL);
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
fn loan_approval_is_a_valid_workflow() {
    let h = harness(LOAN_APPROVAL);
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
fn loan_approval_pays_out_a_small_loan_to_a_good_applicant_automatically() {
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
fn loan_approval_pays_out_a_large_loan_once_an_underwriter_approves() {
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
            actor: "tom".to_owned()
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
fn loan_approval_declines_a_small_loan_with_a_poor_score_when_the_underwriter_rejects() {
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
    assert_eq!(
        h.complete_compensation("open_application"),
        [
            "CompensationCompleted open_application#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
    assert_eq!(status(&h, "disburse"), StepStatus::Pending);
}

#[test]
fn loan_approval_declines_the_application_when_no_underwriter_decides_within_three_days() {
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
    assert_eq!(
        h.complete_compensation("open_application"),
        [
            "CompensationCompleted open_application#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
}

#[test]
fn loan_approval_declines_the_application_when_the_credit_bureau_stays_down() {
    let mut h = harness(LOAN_APPROVAL);
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
    assert_eq!(
        h.complete_compensation("open_application"),
        [
            "CompensationCompleted open_application#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
    assert_eq!(status(&h, "auto_approve"), StepStatus::Pending);
    assert_eq!(status(&h, "underwriter_review"), StepStatus::Pending);
}

// ---------------------------------------------------------------- data-pipeline

/// Starts the pipeline and extracts the snapshot; the four transforms are scheduled.
fn extracted() -> Harness {
    let mut h = harness(DATA_PIPELINE);
    assert_eq!(
        h.start(json!({"date": "2026-03-14", "region": "emea"})),
        ["WorkflowStarted", "StepScheduled extract_sales#1"]
    );
    assert_eq!(
        scheduled_input(&h, "extract_sales"),
        json!({"date": "2026-03-14", "region": "emea"})
    );
    assert_eq!(
        h.complete(
            "extract_sales",
            json!({"snapshot": "s3://staging/sales/2026-03-14"})
        ),
        [
            "StepCompleted extract_sales#1",
            "StepScheduled clean_orders#1",
            "StepScheduled enrich_customers#1",
            "StepScheduled compute_metrics#1",
            "StepScheduled geocode_addresses#1"
        ]
    );
    h
}

#[test]
fn data_pipeline_is_a_valid_workflow() {
    let h = harness(DATA_PIPELINE);
    assert_eq!(h.state.definition.name, "data-pipeline");
    assert_eq!(
        step_ids(&h),
        [
            "extract_sales",
            "clean_orders",
            "enrich_customers",
            "compute_metrics",
            "geocode_addresses",
            "aggregate_report",
            "aggregate_report_without_map",
            "publish_report"
        ]
    );
}

#[test]
fn data_pipeline_extracts_every_region_when_none_is_given() {
    let mut h = harness(DATA_PIPELINE);
    h.start(json!({"date": "2026-03-14"}));
    assert_eq!(
        scheduled_input(&h, "extract_sales"),
        json!({"date": "2026-03-14", "region": "all"})
    );
}

#[test]
fn data_pipeline_publishes_the_full_report_when_every_transform_succeeds() {
    let mut h = extracted();
    assert_eq!(
        h.fail("enrich_customers", true),
        [
            "StepFailed enrich_customers#1",
            "StepRetryScheduled enrich_customers#2"
        ]
    );
    assert_eq!(
        fire_next_timer(&mut h),
        ["StepScheduled enrich_customers#2"]
    );
    assert_eq!(
        h.complete("clean_orders", json!({"table": "orders_clean"})),
        ["StepCompleted clean_orders#1"]
    );
    assert_eq!(
        h.complete("enrich_customers", json!({"table": "customers_enriched"})),
        ["StepCompleted enrich_customers#2"]
    );
    assert_eq!(
        h.complete("compute_metrics", json!({"table": "metrics_daily"})),
        ["StepCompleted compute_metrics#1"]
    );
    assert_eq!(
        h.complete("geocode_addresses", json!({"table": "delivery_geo"})),
        [
            "StepCompleted geocode_addresses#1",
            "StepScheduled aggregate_report#1",
            "StepSkipped aggregate_report_without_map"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "aggregate_report")["tables"],
        json!([
            "orders_clean",
            "customers_enriched",
            "metrics_daily",
            "delivery_geo"
        ])
    );
    assert_eq!(
        h.complete(
            "aggregate_report",
            json!({"report_id": "rep-14", "rows": 1234})
        ),
        [
            "StepCompleted aggregate_report#1",
            "StepScheduled publish_report#1"
        ]
    );
    // The secret stays a reference for the HTTP executor to resolve.
    assert_eq!(
        scheduled_input(&h, "publish_report"),
        json!({
            "method": "PUT",
            "url": "http://bi-catalogue.internal:8080/reports/daily-sales/2026-03-14",
            "headers": {"Authorization": "Bearer ${ secrets.bi_catalogue_token }"},
            "body": {"with_map": true, "report": {"report_id": "rep-14", "rows": 1234}}
        })
    );
    assert_eq!(
        h.complete(
            "publish_report",
            json!({"status": 200, "body": {"url": "https://bi.internal/r/rep-14"}})
        ),
        ["StepCompleted publish_report#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output,
        Some(json!({
            "date": "2026-03-14",
            "with_map": true,
            "published": "https://bi.internal/r/rep-14"
        }))
    );
}

#[test]
fn data_pipeline_publishes_the_report_without_a_map_when_geocoding_keeps_failing() {
    let mut h = extracted();
    assert_eq!(
        h.fail("geocode_addresses", true),
        [
            "StepFailed geocode_addresses#1",
            "StepRetryScheduled geocode_addresses#2"
        ]
    );
    assert_eq!(
        fire_next_timer(&mut h),
        ["StepScheduled geocode_addresses#2"]
    );
    // Out of attempts, but tolerated: nothing is undone, the others go on.
    assert_eq!(
        h.fail("geocode_addresses", true),
        ["StepFailed geocode_addresses#2"]
    );
    assert_eq!(h.state.status, InstanceStatus::Running);
    h.complete("clean_orders", json!({"table": "orders_clean"}));
    h.complete("enrich_customers", json!({"table": "customers_enriched"}));
    assert_eq!(
        h.complete("compute_metrics", json!({"table": "metrics_daily"})),
        [
            "StepCompleted compute_metrics#1",
            "StepSkipped aggregate_report",
            "StepScheduled aggregate_report_without_map#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "aggregate_report_without_map"),
        json!({
            "date": "2026-03-14",
            "tables": ["orders_clean", "customers_enriched", "metrics_daily"],
            "note": "no delivery map for 2026-03-14: geocoding failed"
        })
    );
    assert_eq!(
        h.complete(
            "aggregate_report_without_map",
            json!({"report_id": "rep-14", "rows": 1234})
        ),
        [
            "StepCompleted aggregate_report_without_map#1",
            "StepScheduled publish_report#1"
        ]
    );
    assert_eq!(
        scheduled_input(&h, "publish_report")["body"],
        json!({"with_map": false, "report": {"report_id": "rep-14", "rows": 1234}})
    );
    assert_eq!(
        h.complete(
            "publish_report",
            json!({"status": 200, "body": {"url": "https://bi.internal/r/rep-14"}})
        ),
        ["StepCompleted publish_report#1", "WorkflowCompleted"]
    );
    assert_eq!(h.state.status, InstanceStatus::Completed);
    assert_eq!(
        h.state.output.as_ref().map(|output| &output["with_map"]),
        Some(&json!(false))
    );
}

#[test]
fn data_pipeline_drops_the_staging_snapshot_when_a_transform_keeps_failing() {
    let mut h = extracted();
    for attempt in 1..=2 {
        assert_eq!(
            h.fail("clean_orders", true),
            [
                format!("StepFailed clean_orders#{attempt}"),
                format!("StepRetryScheduled clean_orders#{}", attempt + 1)
            ]
        );
        assert_eq!(
            fire_next_timer(&mut h),
            [format!("StepScheduled clean_orders#{}", attempt + 1)]
        );
    }
    // The snapshot is dropped only once the transforms still reading it are done.
    assert_eq!(
        h.fail("clean_orders", true),
        ["StepFailed clean_orders#3", "CompensationStarted"]
    );
    assert_eq!(
        h.complete("enrich_customers", json!({"table": "customers_enriched"})),
        ["StepCompleted enrich_customers#1"]
    );
    // While compensating, a failure is recorded and not retried.
    assert_eq!(
        h.fail("geocode_addresses", true),
        ["StepFailed geocode_addresses#1"]
    );
    assert_eq!(
        h.complete("compute_metrics", json!({"table": "metrics_daily"})),
        [
            "StepCompleted compute_metrics#1",
            "CompensationScheduled extract_sales#1"
        ]
    );
    assert_eq!(
        compensation_input(&h, "extract_sales"),
        json!({"drop_snapshot": "s3://staging/sales/2026-03-14"})
    );
    assert_eq!(
        h.complete_compensation("extract_sales"),
        [
            "CompensationCompleted extract_sales#1",
            "WorkflowCompensated"
        ]
    );
    assert_eq!(h.state.status, InstanceStatus::Compensated);
    assert_eq!(status(&h, "aggregate_report"), StepStatus::Pending);
    assert_eq!(status(&h, "publish_report"), StepStatus::Pending);
}
