//! The embedded mode's durable bus: what a run leaves unacknowledged comes
//! back in the next run on the same file (tasks, results, tasks handed out
//! to pollers), what was acknowledged or reported does not, and dead
//! letters keep their reason.

mod support;

use std::time::{Duration, Instant};

use application::messages::{TaskMessage, TaskOutcome, TaskResult};
use application::ports::{Bus, Delivery, Subscription, TaskHandout};
use domain::InstanceId;
use domain::instance::effects::{Dispatch, TaskKind};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::SqliteEventStore;
use serde_json::json;

fn task(step: &str, priority: u8) -> TaskMessage {
    TaskMessage::new(
        InstanceId(uuid::Uuid::now_v7()),
        "order",
        Dispatch {
            step: step.into(),
            attempt: 1,
            kind: TaskKind::Forward,
            queue: "work".into(),
            input: json!({ "step": step }),
            idempotency_key: format!("key-{step}"),
            deadline: None,
            priority,
            heartbeat_timeout: None,
        },
    )
}

/// The steps of the tasks waiting in `work`, in delivery order, as a new
/// run of the node on `store` finds them; waits for acknowledgements to be
/// written (they are written together, a moment later) until `expected`.
async fn next_run(store: &SqliteEventStore, expected: &[&str]) -> (LocalBus, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let bus = LocalBus::durable(store).await.unwrap();
        let mut tasks = bus.consume_tasks("work", 16).await.unwrap();
        let mut steps = Vec::new();
        let mut deliveries = Vec::new();
        while bus.waiting("work") > 0 {
            let delivery = tasks.next().await.unwrap().unwrap();
            assert!(
                delivery.redelivered(),
                "a task of an earlier run is redelivered"
            );
            steps.push(delivery.message().step.as_str().to_owned());
            deliveries.push(delivery);
        }
        drop(deliveries);
        if steps == expected || Instant::now() > deadline {
            return (bus, steps);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn unacknowledged_tasks_come_back_in_the_next_run_by_priority_and_acknowledged_ones_do_not() {
    let (_dir, store) = support::sqlite_store().await;
    let bus = LocalBus::durable(&store).await.unwrap();
    bus.publish_tasks(&[task("a", 0), task("b", 0), task("urgent", 9), task("c", 0)])
        .await
        .unwrap();
    let mut tasks = bus.consume_tasks("work", 16).await.unwrap();
    let urgent = tasks.next().await.unwrap().unwrap();
    assert_eq!(urgent.message().step.as_str(), "urgent");
    urgent.ack().await.unwrap();
    let running = tasks.next().await.unwrap().unwrap();
    assert_eq!(running.message().step.as_str(), "a");
    // The process dies with `a` running and `b`, `c` queued.
    std::mem::forget(running);
    drop((tasks, bus));

    let (_bus, steps) = next_run(&store, &["a", "b", "c"]).await;
    assert_eq!(steps, ["a", "b", "c"]);
}

#[tokio::test]
async fn results_stay_until_acknowledged_and_rejected_ones_stay_dead_with_their_reason() {
    let (_dir, store) = support::sqlite_store().await;
    let bus = LocalBus::durable(&store).await.unwrap();
    let done = |step: &str| {
        TaskResult::for_task(&task(step, 0), TaskOutcome::Completed { output: json!({}) })
    };
    bus.publish_result(&done("kept")).await.unwrap();
    bus.publish_result(&done("refused")).await.unwrap();
    let mut results = bus.consume_results(16).await.unwrap();
    let kept = results.next().await.unwrap().unwrap();
    let refused = results.next().await.unwrap().unwrap();
    refused.reject().await.unwrap();
    std::mem::forget(kept);
    drop((results, bus));

    let bus = LocalBus::durable(&store).await.unwrap();
    assert_eq!(bus.results_waiting(), 1);
    let dead = bus.dead_result_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message.0[0].step.as_str(), "refused");
    assert_eq!(dead[0].reason, "rejected by its consumer");
    assert_eq!(dead[0].deliveries, 1);
}

#[tokio::test]
async fn a_polled_task_is_handed_out_again_after_a_restart_unless_its_result_was_reported() {
    let (_dir, store) = support::sqlite_store().await;
    let bus = LocalBus::durable(&store).await.unwrap();
    bus.publish_tasks(&[task("reported", 0), task("lost", 0)])
        .await
        .unwrap();
    let wait = Duration::from_secs(5);
    let reported = bus.take("work", wait).await.unwrap().unwrap();
    let lost = bus.take("work", wait).await.unwrap().unwrap();
    assert_eq!(
        bus.unacknowledged("work"),
        2,
        "handed out, not acknowledged"
    );
    bus.settled(&reported.task_id).await.unwrap();
    assert_eq!(bus.unacknowledged("work"), 1);
    drop(bus);

    let (bus, steps) = next_run(&store, &["lost"]).await;
    assert_eq!(steps, ["lost"]);
    // A report on the task after the restart takes it off the queue.
    bus.settled(&lost.task_id).await.unwrap();
    assert_eq!(bus.waiting("work"), 0);
}
