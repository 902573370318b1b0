//! `workflows/travel-booking.yaml`: flight, hotel and car booked in
//! parallel, cancelled in saga order when one fails.

use domain::instance::{Command, InstanceStatus, StepStatus};
use domain::testkit::admin;
use serde_json::{Value, json};

use crate::support::{
    compensation_input, fire_next_timer, harness, scheduled_input, status, step_ids, undo_last,
};

const WORKFLOW: &str = "travel-booking.yaml";

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
fn is_a_valid_workflow() {
    let h = harness(WORKFLOW);
    assert_eq!(h.state.definition.name, "travel-booking");
    assert_eq!(
        step_ids(&h),
        ["book_flight", "book_hotel", "book_car", "confirm_trip"]
    );
}

#[test]
fn confirms_the_trip_once_flight_hotel_and_car_are_booked() {
    let mut h = harness(WORKFLOW);
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
fn cancels_the_flight_and_the_car_when_no_hotel_is_available() {
    let mut h = harness(WORKFLOW);
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
    undo_last(&mut h, "book_car");
    assert_eq!(status(&h, "confirm_trip"), StepStatus::Pending);
}

#[test]
fn waits_for_an_operator_when_a_car_cancellation_keeps_failing() {
    let mut h = harness(WORKFLOW);
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
            step: "book_car".into(),
            by: admin(),
        }),
        [
            "CompensationRetryRequested book_car",
            "CompensationScheduled book_car#3"
        ]
    );
    undo_last(&mut h, "book_car");
}
