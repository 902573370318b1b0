//! What the adapter tests share: a fresh SQLite store, an engine for given
//! definitions, the order saga, a scripted executor and a driver of a
//! node's loops. Each test binary compiles this module on its own, so items
//! only some use allow `dead_code`.

#![allow(dead_code)]

use std::sync::Arc;

use application::Engine;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::loops::{Executor, OutboxRelay, ResultConsumer, TimerPoller, Worker};
use application::messages::{TaskMessage, TaskOutcome};
use application::ports::{Bus, EventStore, OutboxQueue, Subscription, TimerQueue};
use domain::instance::StepError;
use infrastructure::local_bus::LocalBus;
use infrastructure::store::SqliteEventStore;
use serde_json::{Value, json};

/// A fresh SQLite store in a folder of its own, removed (with SQLite's
/// `-wal` and `-shm` files) when the folder is dropped.
pub async fn sqlite_store() -> (tempfile::TempDir, SqliteEventStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&dir.path().join("distorch.db"))
        .await
        .unwrap();
    (dir, store)
}

/// A registry of the given workflow definitions.
pub fn registry(sources: &[&str]) -> Arc<DefinitionRegistry> {
    let registry = Arc::new(DefinitionRegistry::default());
    for source in sources {
        registry
            .register(domain::parse_workflow(source).unwrap())
            .unwrap();
    }
    registry
}

/// An engine on `store` running the definitions of `registry`, on the system clock.
pub fn engine<S: EventStore>(store: S, registry: Arc<DefinitionRegistry>) -> Arc<Engine<S>> {
    Arc::new(Engine::new(
        store,
        registry,
        Arc::new(SystemClock::default()),
    ))
}

/// For each `async fn test(store)` named, a test on a fresh PostgreSQL
/// database (`postgres::test`) and one on a fresh SQLite file
/// (`sqlite::test`).
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod postgres {
            $(
                #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
                async fn $test(pool: sqlx::PgPool) {
                    super::$test(infrastructure::store::PgEventStore::new(pool)).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let (_dir, store) = $crate::support::sqlite_store().await;
                    super::$test(store).await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;

pub const ORDER: &str = r#"
name: order
version: 1
defaults:
  retry: { max_attempts: 2, initial: 1ms, jitter: false }
steps:
  reserve:
    type: task
    queue: work
    compensate: { type: task, queue: work }
  charge:
    type: task
    queue: work
    needs: [reserve]
    compensate: { type: task, queue: work }
  ship:
    type: task
    queue: work
    needs: [reserve]
  confirm:
    type: task
    queue: work
    needs: [charge, ship]
    input: { fail: "${ has(input.fail_confirm) && input.fail_confirm }" }
"#;

/// Completes every task, except one whose input says `fail: true`.
pub struct Scripted;

impl Executor for Scripted {
    async fn execute(&self, task: &TaskMessage) -> TaskOutcome {
        if task.input.get("fail") == Some(&Value::Bool(true)) {
            TaskOutcome::Failed {
                error: StepError::retryable("scripted failure"),
            }
        } else {
            TaskOutcome::Completed {
                output: json!({"step": task.step.as_str(), "attempt": task.attempt}),
            }
        }
    }
}

/// Drives every loop of a node (relay, worker on queue `work`, results
/// consumer, timer poller) until nothing is left to do.
pub async fn settle<S>(engine: &Arc<Engine<S>>, bus: &LocalBus)
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
{
    let relay = OutboxRelay::new(engine.clone(), bus.clone());
    let poller = TimerPoller::new(engine.clone());
    let consumer = ResultConsumer::new(engine.clone(), bus.clone());
    let worker = Worker::new(bus.clone(), "work", "test", Scripted);
    let mut tasks = bus.consume_tasks("work", 16).await.unwrap();
    let mut results = bus.consume_results(16).await.unwrap();
    for _ in 0..200 {
        let mut progressed = relay.run_once().await.unwrap() > 0;
        while bus.waiting("work") > 0 {
            worker
                .handle(tasks.next().await.unwrap().unwrap())
                .await
                .unwrap();
            progressed = true;
        }
        while bus.results_waiting() > 0 {
            consumer
                .handle(results.next().await.unwrap().unwrap())
                .await
                .unwrap();
            progressed = true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        progressed |= poller.run_once().await.unwrap() > 0;
        if !progressed {
            return;
        }
    }
    panic!("the loops never settled");
}
