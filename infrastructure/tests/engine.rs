//! The engine on the real stores: workflows run through the outbox relay,
//! the in-process bus, workers, the results consumer and the timer poller,
//! each loop driven one step at a time (no sleeps).

mod support;

use std::sync::Arc;

use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::loops::{Executor, Handled, OutboxRelay, ResultConsumer, TimerPoller};
use application::messages::{TaskMessage, TaskOutcome, TaskResult};
use application::ports::{Bus, Delivery, EventStore, OutboxQueue, Subscription, TimerQueue};
use application::{Engine, Origin};
use domain::InstanceId;
use domain::instance::{InstanceStatus, StepError};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::PgEventStore;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{ORDER, Scripted};

struct Node<S> {
    engine: Arc<Engine<S>>,
    bus: LocalBus,
}

impl<S: EventStore + OutboxQueue + TimerQueue + 'static> Node<S> {
    fn new(store: S) -> Self {
        Self {
            engine: support::engine(store, support::registry(&[ORDER])),
            bus: LocalBus::default(),
        }
    }

    /// Drives every loop until nothing is left to do.
    async fn settle(&self) {
        support::settle(&self.engine, &self.bus).await;
    }

    /// Like `settle`, but the worker's every result is delivered three
    /// times (alone, then twice in one message) and all results waiting
    /// are applied as one batch, with a result for an instance that does
    /// not exist among them.
    async fn settle_in_batches(&self) -> Vec<Handled> {
        let relay = OutboxRelay::new(self.engine.clone(), self.bus.clone());
        let consumer = ResultConsumer::new(self.engine.clone(), self.bus.clone());
        let poller = TimerPoller::new(self.engine.clone());
        let mut tasks = self.bus.consume_tasks("work", 64).await.unwrap();
        let mut results = self.bus.consume_results(256).await.unwrap();
        let mut handled = Vec::new();
        for _ in 0..50 {
            // Retries wait 1 ms.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            let fired = poller.run_once().await.unwrap();
            if relay.run_once().await.unwrap() == 0 && fired == 0 {
                return handled;
            }
            while self.bus.waiting("work") > 0 {
                let delivery = tasks.next().await.unwrap().unwrap();
                let task = delivery.message().clone();
                let result =
                    TaskResult::for_task(&task, Scripted.execute(&task).await).started_by("test");
                // Once alone, then twice more in one message of two.
                self.bus.publish_result(&result).await.unwrap();
                self.bus
                    .publish_results(&[result.clone(), result])
                    .await
                    .unwrap();
                delivery.ack().await.unwrap();
            }
            let mut batch = Vec::new();
            if self.bus.results_waiting() > 0 {
                let first = results.next().await.unwrap().unwrap();
                let mut stranger = first.message().0[0].clone();
                stranger.instance_id = InstanceId(uuid::Uuid::now_v7());
                self.bus.publish_result(&stranger).await.unwrap();
                batch.push(first);
            }
            while self.bus.results_waiting() > 0 {
                batch.push(results.next().await.unwrap().unwrap());
            }
            handled.extend(
                consumer
                    .handle_batch(batch)
                    .await
                    .into_iter()
                    .map(Result::unwrap),
            );
        }
        panic!("the loops never settled");
    }

    async fn start(&self, input: Value) -> InstanceId {
        self.engine
            .start("order", None, input, &Origin::actor("test"))
            .await
            .unwrap()
    }
}

async fn runs_a_saga_to_completion_and_to_compensation(
    store: impl EventStore + OutboxQueue + TimerQueue + 'static,
) {
    let node = Node::new(store);
    let happy = node.start(json!({})).await;
    let unhappy = node.start(json!({"fail_confirm": true})).await;
    node.settle().await;
    let happy = node.engine.state(happy).await.unwrap();
    assert_eq!(happy.status, InstanceStatus::Completed);
    let unhappy_state = node.engine.state(unhappy).await.unwrap();
    assert_eq!(unhappy_state.status, InstanceStatus::Compensated);
    let summaries: Vec<String> = node
        .engine
        .store()
        .load(unhappy, 0)
        .await
        .unwrap()
        .iter()
        .map(|record| application::codec::decode(record).unwrap().summary())
        .collect();
    let undo: Vec<&str> = summaries
        .iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("CompensationCompleted"))
        .collect();
    assert_eq!(
        undo,
        [
            "CompensationCompleted charge#1",
            "CompensationCompleted reserve#1"
        ]
    );
    assert!(
        summaries.contains(&"StepRetryScheduled confirm#2".to_owned()),
        "{summaries:?}"
    );
}

async fn ignores_duplicate_and_stale_results(
    store: impl EventStore + OutboxQueue + TimerQueue + 'static,
) {
    let node = Node::new(store);
    let id = node.start(json!({})).await;
    node.settle().await;
    let before = node.engine.state(id).await.unwrap();
    assert_eq!(before.status, InstanceStatus::Completed);
    let task = TaskMessage {
        task_id: "dup".into(),
        instance_id: id,
        workflow: "order".into(),
        step: "charge".into(),
        attempt: 1,
        kind: domain::instance::effects::TaskKind::Forward,
        queue: "work".into(),
        input: json!({}),
        idempotency_key: "k".into(),
        deadline: None,
        priority: 0,
        heartbeat_timeout_ms: None,
        traceparent: None,
    };
    for outcome in [
        TaskOutcome::Completed {
            output: json!({"again": true}),
        },
        TaskOutcome::Failed {
            error: StepError::permanent("late"),
        },
    ] {
        let events = node
            .engine
            .handle_result(TaskResult::for_task(&task, outcome))
            .await
            .unwrap();
        assert!(events.is_empty());
    }
    let stale = TaskResult {
        attempt: 7,
        ..TaskResult::for_task(&task, TaskOutcome::Completed { output: json!(1) })
    };
    assert!(node.engine.handle_result(stale).await.unwrap().is_empty());
    assert_eq!(node.engine.state(id).await.unwrap().version, before.version);
}

/// Results applied in batches — several per instance, each twice, one for
/// an unknown instance — end as applying them one by one does, and a final
/// result that names its worker records the start as well.
async fn applies_results_in_batches<S: EventStore + OutboxQueue + TimerQueue + 'static>(store: S) {
    let node = Node::new(store);
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(node.start(json!({"fail_confirm": n % 3 == 0})).await);
    }
    let handled = node.settle_in_batches().await;
    assert!(handled.contains(&Handled::DeadLettered), "{handled:?}");
    assert!(!handled.contains(&Handled::Requeued), "{handled:?}");
    for (n, id) in ids.into_iter().enumerate() {
        let state = node.engine.state(id).await.unwrap();
        let expected = if n % 3 == 0 {
            InstanceStatus::Compensated
        } else {
            InstanceStatus::Completed
        };
        assert_eq!(state.status, expected, "workflow {n}");
        let events = node.engine.store().load(id, 0).await.unwrap();
        let count = |kind: &str| events.iter().filter(|e| e.event_type == kind).count();
        // Every scheduled forward attempt was started, once, by the worker.
        assert_eq!(count("StepStarted"), count("StepScheduled"), "workflow {n}");
        assert!(
            events
                .iter()
                .filter(|e| e.event_type == "StepStarted")
                .all(|e| e.data["worker"] == "test")
        );
        let mut completions: Vec<_> = events
            .iter()
            .filter(|e| e.event_type == "StepCompleted")
            .map(|e| e.data["step"].as_str().unwrap().to_owned())
            .collect();
        let total = completions.len();
        completions.dedup();
        completions.sort();
        completions.dedup();
        assert_eq!(completions.len(), total, "a step completed twice in {n}");
    }
}

/// Two engine nodes on one database race on the same instances: every
/// result lands once, conflicts are decided again, nothing is lost.
async fn two_nodes_share_instances_safely<
    S: EventStore + OutboxQueue + TimerQueue + Clone + 'static,
>(
    store: S,
) {
    let first = Node::new(store.clone());
    let second = Node {
        engine: Arc::new(Engine::new(
            store,
            first.engine_registry(),
            Arc::new(SystemClock::default()),
        )),
        bus: first.bus.clone(),
    };
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(if n % 2 == 0 {
            first.start(json!({})).await
        } else {
            second.start(json!({})).await
        });
    }
    tokio::join!(first.settle(), second.settle());
    first.settle().await;
    for id in ids {
        let state = first.engine.state(id).await.unwrap();
        assert_eq!(state.status, InstanceStatus::Completed, "{id}");
        assert_eq!(
            second.engine.state(id).await.unwrap().version,
            state.version
        );
    }
}

/// Starts that arrive together are stored together, and one refused among
/// them (its id is taken) leaves the others stored; every one of them then
/// runs to its end. Returns the ids started.
async fn starts_at_once_are_stored_together<S: EventStore + OutboxQueue + TimerQueue + 'static>(
    node: &Node<S>,
) -> Vec<InstanceId> {
    let taken = node.start(json!({})).await;
    let ids: Vec<InstanceId> = (0..40)
        .map(|n| {
            if n == 7 {
                taken
            } else {
                InstanceId(uuid::Uuid::now_v7())
            }
        })
        .collect();
    let mut starts = tokio::task::JoinSet::new();
    for (n, id) in ids.iter().copied().enumerate() {
        let engine = node.engine.clone();
        starts.spawn(async move {
            let outcome = engine
                .start_as(id, "order", None, json!({}), None, &Origin::actor("test"))
                .await;
            (n, outcome)
        });
    }
    while let Some(joined) = starts.join_next().await {
        let (n, outcome) = joined.unwrap();
        match (n, outcome) {
            (7, Err(application::Error::Conflict { .. })) => {}
            (7, other) => panic!("the start of a taken id answered {other:?}"),
            (n, outcome) => outcome.unwrap_or_else(|error| panic!("start {n}: {error}")),
        }
    }
    node.settle().await;
    for id in &ids {
        let state = node.engine.state(*id).await.unwrap();
        assert_eq!(state.status, InstanceStatus::Completed, "{id}");
    }
    ids.into_iter().filter(|id| *id != taken).collect()
}

/// Two result rounds at once, each with a result for one instance (its
/// parallel `charge` and `ship`): the second waits for the first instead
/// of deciding on the same state, so no append conflicts, and both land.
async fn rounds_at_once_for_one_instance_do_not_conflict<
    S: EventStore + OutboxQueue + TimerQueue + 'static,
>(
    store: S,
) {
    let metrics = Arc::new(application::metrics::Metrics::new());
    let node = Node::new(application::metrics::MeteredStore::new(
        store,
        metrics.clone(),
    ));
    let id = node.start(json!({})).await;
    let relay = OutboxRelay::new(node.engine.clone(), node.bus.clone());
    let consumer = ResultConsumer::new(node.engine.clone(), node.bus.clone());
    let worker = application::loops::Worker::new(node.bus.clone(), "work", "test", Scripted);
    let mut tasks = node.bus.consume_tasks("work", 16).await.unwrap();
    let mut results = node.bus.consume_results(16).await.unwrap();
    // `reserve`, then its two successors.
    relay.run_once().await.unwrap();
    worker
        .handle(tasks.next().await.unwrap().unwrap())
        .await
        .unwrap();
    consumer
        .handle(results.next().await.unwrap().unwrap())
        .await
        .unwrap();
    relay.run_once().await.unwrap();
    assert_eq!(node.bus.waiting("work"), 2);
    for _ in 0..2 {
        worker
            .handle(tasks.next().await.unwrap().unwrap())
            .await
            .unwrap();
    }
    let first = results.next().await.unwrap().unwrap();
    let second = results.next().await.unwrap().unwrap();
    let (first, second) = tokio::join!(
        consumer.handle_batch(vec![first]),
        consumer.handle_batch(vec![second])
    );
    assert_eq!(first[0].as_ref().unwrap(), &Handled::Applied);
    assert_eq!(second[0].as_ref().unwrap(), &Handled::Applied);
    assert_eq!(metrics.append_conflicts.get(), 0, "an append conflicted");
    let state = node.engine.state(id).await.unwrap();
    let completed = |step: &str| {
        state.steps[state.definition.step_index(step).unwrap()].status()
            == domain::instance::StepStatus::Completed
    };
    assert!(
        completed("charge") && completed("ship"),
        "{:?}",
        state.steps
    );
}

/// A message of several results with one that no instance can take is
/// dead-lettered whole, after its other results were applied: re-driving it
/// changes nothing for them.
#[tokio::test]
async fn a_message_with_an_unplaceable_result_is_dead_lettered_whole() {
    let (_dir, store) = support::sqlite_store().await;
    let node = Node::new(store);
    let id = node.start(json!({})).await;
    let relay = OutboxRelay::new(node.engine.clone(), node.bus.clone());
    let consumer = ResultConsumer::new(node.engine.clone(), node.bus.clone());
    let mut tasks = node.bus.consume_tasks("work", 16).await.unwrap();
    let mut results = node.bus.consume_results(16).await.unwrap();
    relay.run_once().await.unwrap();
    let delivery = tasks.next().await.unwrap().unwrap();
    let task = delivery.message().clone();
    let result = TaskResult::for_task(&task, Scripted.execute(&task).await).started_by("test");
    let mut stranger = result.clone();
    stranger.instance_id = InstanceId(uuid::Uuid::now_v7());
    node.bus
        .publish_results(&[result.clone(), stranger.clone()])
        .await
        .unwrap();
    delivery.ack().await.unwrap();

    let handled = consumer
        .handle(results.next().await.unwrap().unwrap())
        .await
        .unwrap();
    assert_eq!(handled, Handled::DeadLettered);
    let state = node.engine.state(id).await.unwrap();
    let reserve = &state.steps[state.definition.step_index("reserve").unwrap()];
    assert_eq!(reserve.status(), domain::instance::StepStatus::Completed);
    assert_eq!(
        node.bus.dead_results(),
        vec![application::messages::ResultBatch(vec![result, stranger])]
    );
}

/// A dead node's outbox rows are claimed by a busy one: the relay claims
/// rows whose lease ran out every `FALLBACK_WAKE` (2 s) even while appends
/// keep waking it (here, a wake every 50 ms). It used to claim only after
/// 2 s without a wake, so a busy node never took over.
#[tokio::test]
async fn a_busy_relay_takes_over_a_dead_nodes_rows() {
    let (_dir, store) = support::sqlite_store().await;
    let dead = Node::new(store.clone());
    let busy = Node {
        engine: Arc::new(Engine::new(
            store.clone(),
            dead.engine_registry(),
            Arc::new(SystemClock::default()),
        )),
        bus: dead.bus.clone(),
    };
    let relay = Arc::new(OutboxRelay::new(busy.engine.clone(), busy.bus.clone()));
    let running = {
        let relay = relay.clone();
        tokio::spawn(async move { relay.run().await })
    };
    let waking = {
        let engine = busy.engine.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                engine.outbox_written.notify_one();
            }
        })
    };
    // After the relay's first round: the dead node appends (its row is
    // leased to it), never publishes, and its lease runs out.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    dead.start(json!({})).await;
    sqlx::query("update outbox set locked_until = '2000-01-01T00:00:00.000000Z'")
        .execute(store.pool())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    while busy.bus.waiting("work") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the busy relay never published the dead node's row"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    running.abort();
    waking.abort();
}

impl<S> Node<S> {
    fn engine_registry(&self) -> Arc<DefinitionRegistry> {
        support::registry(&[ORDER])
    }
}

support::on_both_stores!(
    runs_a_saga_to_completion_and_to_compensation,
    ignores_duplicate_and_stale_results,
    applies_results_in_batches,
    two_nodes_share_instances_safely,
    rounds_at_once_for_one_instance_do_not_conflict,
);

mod starts_together {
    use super::*;

    /// On PostgreSQL each event names its transaction: 39 starts at once
    /// took a few (the first two go alone, each in a slot of its own; the
    /// rest wait and go together), not 39.
    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn on_postgres(pool: PgPool) {
        let node = Node::new(PgEventStore::new(pool.clone()));
        let ids = super::starts_at_once_are_stored_together(&node).await;
        let streams: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        let (transactions,): (i64,) = sqlx::query_as(
            "select count(distinct tx) from events where type = 'WorkflowStarted' and stream_id = any($1)",
        )
        .bind(&streams)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(
            transactions <= 5,
            "{} starts took {transactions} transactions",
            ids.len()
        );
    }

    #[tokio::test]
    async fn on_sqlite() {
        let (_dir, store) = support::sqlite_store().await;
        super::starts_at_once_are_stored_together(&Node::new(store)).await;
    }
}

const BEAT: &str = r#"
name: beat
version: 1
steps:
  crunch:
    type: task
    queue: slow
    heartbeat_timeout: 300ms
    retry: { max_attempts: 1 }
"#;

/// Heartbeats are not events, but they keep a running attempt alive past
/// its heartbeat timeout; when they stop, the attempt times out.
async fn heartbeats_keep_an_attempt_alive_until_they_stop(
    store: impl EventStore + OutboxQueue + TimerQueue + 'static,
) {
    let engine = support::engine(store, support::registry(&[BEAT]));
    let bus = LocalBus::default();
    let relay = OutboxRelay::new(engine.clone(), bus.clone());
    let poller = TimerPoller::new(engine.clone());
    let id = engine
        .start("beat", None, json!({}), &Origin::actor("test"))
        .await
        .unwrap();
    relay.run_once().await.unwrap();
    let mut tasks = bus.consume_tasks("slow", 1).await.unwrap();
    let delivery = tasks.next().await.unwrap().unwrap();
    let task = application::ports::Delivery::message(&delivery).clone();
    let report = |outcome| engine.handle_result(TaskResult::for_task(&task, outcome));
    report(TaskOutcome::Started { worker: "w".into() })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(900) {
        report(TaskOutcome::Heartbeat { progress: Some(50) })
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        poller.run_once().await.unwrap();
    }
    assert_eq!(
        engine.state(id).await.unwrap().status,
        InstanceStatus::Running,
        "heartbeats kept it alive"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    poller.run_once().await.unwrap();
    let state = engine.state(id).await.unwrap();
    assert_eq!(
        state.status,
        InstanceStatus::Compensated,
        "silence past the heartbeat timeout fails the attempt"
    );
    assert_eq!(
        state.steps[0].error_message(),
        Some("the worker stopped sending heartbeats")
    );
}

mod heartbeats {
    use super::*;

    support::on_both_stores!(heartbeats_keep_an_attempt_alive_until_they_stop);
}
