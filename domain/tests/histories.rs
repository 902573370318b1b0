//! The canned histories of `testkit::histories` are what `decide` decides:
//! each is driven here command by command and compared event for event,
//! so a test that starts from one starts from a state the rules can reach.

use domain::instance::{Actor, Command, Event};
use domain::testkit::{Harness, histories};
use serde_json::json;

fn boss() -> Actor {
    Actor::new("ann", &["boss"])
}

fn reject_b(h: &mut Harness) {
    h.then(Command::Reject {
        step: "b".into(),
        actor: boss(),
        comment: None,
    });
}

/// The commands that lead to each history, from a fresh instance.
fn driven(name: &str) -> Vec<Event> {
    let mut h = histories::lifecycle();
    h.start(json!({}));
    match name {
        "running" => {}
        "paused" => {
            h.then(Command::Pause);
        }
        "cancelled" => {
            h.then(Command::Cancel { compensate: false });
        }
        _ => {
            h.complete("a", json!({"id": 1}));
            match name {
                "awaiting_approval" => {}
                "approved" | "completed" | "failed" => {
                    h.approve("b", &boss()).expect("ann may approve");
                    match name {
                        "completed" => {
                            h.complete("c", json!({}));
                        }
                        "failed" => {
                            h.fail("c", false);
                        }
                        _ => {}
                    }
                }
                "compensating" => reject_b(&mut h),
                "compensated" => {
                    reject_b(&mut h);
                    h.complete_compensation("a");
                }
                "compensation_failed" => {
                    reject_b(&mut h);
                    h.fail_compensation("a", false);
                }
                other => panic!("no commands for {other}"),
            }
        }
    }
    h.history
}

type Canned = fn() -> Vec<Event>;

#[test]
fn every_canned_history_is_what_decide_decides() {
    let canned: [(&str, Canned); 10] = [
        ("running", histories::running),
        ("paused", histories::paused),
        ("cancelled", histories::cancelled),
        ("awaiting_approval", histories::awaiting_approval),
        ("approved", histories::approved),
        ("completed", histories::completed),
        ("failed", histories::failed),
        ("compensating", histories::compensating),
        ("compensated", histories::compensated),
        ("compensation_failed", histories::compensation_failed),
    ];
    for (name, history) in canned {
        assert_eq!(history(), driven(name), "histories::{name}");
    }
}

#[test]
fn a_given_history_sets_the_timers_its_events_ask_for() {
    let mut h = histories::lifecycle().given(histories::running());
    assert_eq!(
        h.fire_next_timer().expect("a's deadline"),
        [
            "StepTimedOut a#1",
            "CompensationStarted",
            "WorkflowCompensated"
        ]
    );
}
