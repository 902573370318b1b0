//! The read models on the real stores: workflows run through the engine and
//! its loops (driven step by step), the projector projects the log, and a
//! rebuild from the log gives every row back identical.

mod support;

use std::sync::Arc;

use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::ports::{
    ApplyOutcome, DefinitionStore, EventStore, OutboxQueue, ProjectionWriter, ReadModelQueries,
    ScheduleStore, StepRow, TimerQueue, WorkflowFilter, WorkflowRow,
};
use application::projection::Projector;
use application::{Engine, Origin, catalog};
use domain::InstanceId;
use domain::instance::Command;
use infrastructure::local_bus::LocalBus;
use serde_json::{Value, json};
use support::ORDER;

struct Node<S, R> {
    engine: Arc<Engine<S>>,
    bus: LocalBus,
    read_models: R,
}

type Snapshot = Vec<(WorkflowRow, Vec<StepRow>)>;

impl<S, R> Node<S, R>
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
    R: ProjectionWriter + ReadModelQueries + DefinitionStore + ScheduleStore + Clone,
{
    async fn new(store: S, read_models: R) -> Self {
        let registry = Arc::new(DefinitionRegistry::default());
        catalog::deploy(&registry, &read_models, ORDER)
            .await
            .unwrap();
        Self {
            engine: Arc::new(Engine::new(
                store,
                registry,
                Arc::new(SystemClock::default()),
            )),
            bus: LocalBus::default(),
            read_models,
        }
    }

    /// Drives every loop until nothing is left to do.
    async fn settle(&self) {
        support::settle(&self.engine, &self.bus).await;
    }

    async fn start(&self, input: Value) -> InstanceId {
        self.engine
            .start("order", None, input, &Origin::actor("test"))
            .await
            .unwrap()
    }

    fn projector(&self) -> Projector<S, R> {
        Projector::new(self.engine.clone(), self.read_models.clone())
    }

    async fn snapshot(&self) -> Snapshot {
        let filter = WorkflowFilter {
            limit: 1000,
            ..WorkflowFilter::default()
        };
        let mut snapshot = Vec::new();
        for row in self.read_models.workflows(&filter).await.unwrap() {
            let steps = self.read_models.steps(row.id).await.unwrap();
            snapshot.push((row, steps));
        }
        snapshot
    }
}

/// Runs a completed, a compensated and a paused instance; returns their ids.
async fn run_workflows<S, R>(node: &Node<S, R>) -> [InstanceId; 3]
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
    R: ProjectionWriter + ReadModelQueries + DefinitionStore + ScheduleStore + Clone,
{
    let happy = node.start(json!({"order": 1})).await;
    let unhappy = node.start(json!({"fail_confirm": true})).await;
    let paused = node.start(json!({})).await;
    node.engine
        .execute(paused, Command::Pause, &Origin::actor("test"))
        .await
        .unwrap();
    node.settle().await;
    [happy, unhappy, paused]
}

async fn projects_the_log_and_rebuilds_every_row_identical<S, R>(node: Node<S, R>)
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
    R: ProjectionWriter + ReadModelQueries + DefinitionStore + ScheduleStore + Clone,
{
    let [happy, unhappy, paused] = run_workflows(&node).await;
    let projector = node.projector();
    let projected = projector.catch_up().await.unwrap();
    assert!(projected > 20, "projected only {projected} events");
    let events = node.engine.store().read_all(0, 10_000).await.unwrap();
    assert_eq!(
        node.read_models.checkpoint().await.unwrap(),
        events.last().unwrap().position
    );

    let read = &node.read_models;
    let happy_row = read.workflow(happy).await.unwrap().unwrap();
    assert_eq!(happy_row.status, "completed");
    assert_eq!(happy_row.definition, "order");
    assert_eq!(happy_row.input, json!({"order": 1}));
    assert!(happy_row.finished_at.is_some());
    let steps = read.steps(happy).await.unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ["reserve", "charge", "ship", "confirm"]);
    for step in &steps {
        assert_eq!(step.status, "completed", "{step:?}");
        assert_eq!(step.worker.as_deref(), Some("test"));
        let (scheduled, started, finished) = (
            step.scheduled_at.unwrap(),
            step.started_at.unwrap(),
            step.finished_at.unwrap(),
        );
        assert!(scheduled <= started && started <= finished, "{step:?}");
        assert_eq!(step.output.as_ref().unwrap()["step"], step.step.as_str());
    }

    let unhappy_row = read.workflow(unhappy).await.unwrap().unwrap();
    assert_eq!(unhappy_row.status, "compensated");
    assert_eq!(unhappy_row.failed_steps, ["confirm"]);
    assert!(unhappy_row.current_steps.is_empty());
    let confirm = &read.steps(unhappy).await.unwrap()[3];
    assert_eq!(
        (confirm.status.as_str(), confirm.attempt),
        ("failed", 2),
        "{confirm:?}"
    );
    assert_eq!(confirm.last_error.as_deref(), Some("scripted failure"));
    let reserve = &read.steps(unhappy).await.unwrap()[0];
    assert_eq!(reserve.compensation.as_deref(), Some("completed"));

    let paused_row = read.workflow(paused).await.unwrap().unwrap();
    assert_eq!(paused_row.status, "paused");

    let by_status = read
        .workflows(&WorkflowFilter {
            status: Some("compensated".into()),
            limit: 10,
            ..WorkflowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_status.iter().map(|w| w.id).collect::<Vec<_>>(),
        [unhappy]
    );
    let counts = read.status_counts().await.unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), 3);
    let step_stats = read.step_durations().await.unwrap();
    let reserve_stats = step_stats.iter().find(|s| s.step == "reserve").unwrap();
    assert_eq!(reserve_stats.durations.count, 3 - 1 + 1);
    assert!(!read.bottlenecks(10).await.unwrap().is_empty());

    let before = node.snapshot().await;
    assert_eq!(before.len(), 3);
    node.read_models.reset().await.unwrap();
    assert!(node.snapshot().await.is_empty());
    assert_eq!(node.read_models.checkpoint().await.unwrap(), 0);
    let replayed = node.projector().catch_up().await.unwrap();
    assert_eq!(replayed, events.len());
    assert_eq!(node.snapshot().await, before);
}

async fn a_batch_read_from_an_old_checkpoint_writes_nothing<S, R>(node: Node<S, R>)
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
    R: ProjectionWriter + ReadModelQueries + DefinitionStore + ScheduleStore + Clone,
{
    let id = node.start(json!({})).await;
    node.projector().catch_up().await.unwrap();
    let stale = application::ports::ProjectionBatch {
        after: 0,
        through: 1,
        changes: vec![application::projection::Change {
            instance: id,
            at: chrono::Utc::now(),
            kind: application::projection::ChangeKind::Status("cancelled"),
        }],
    };
    assert_eq!(
        node.read_models.apply(&stale).await.unwrap(),
        application::ports::ApplyOutcome::Moved
    );
    assert_eq!(
        node.read_models.workflow(id).await.unwrap().unwrap().status,
        "running"
    );
}

mod postgres {
    use infrastructure::store::{PgEventStore, PgReadModels};
    use sqlx::PgPool;

    use super::*;

    async fn node(pool: PgPool) -> Node<PgEventStore, PgReadModels> {
        Node::new(PgEventStore::new(pool.clone()), PgReadModels::new(pool)).await
    }

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn projects_the_log_and_rebuilds_every_row_identical(pool: PgPool) {
        let node = node(pool.clone()).await;
        super::projects_the_log_and_rebuilds_every_row_identical(node).await;
    }

    /// Every column of every row, as PostgreSQL renders it.
    async fn raw_rows(pool: &PgPool) -> Vec<serde_json::Value> {
        let mut rows: Vec<serde_json::Value> =
            sqlx::query_scalar("select to_jsonb(i) from workflow_instances i order by id")
                .fetch_all(pool)
                .await
                .unwrap();
        rows.extend(
            sqlx::query_scalar::<_, serde_json::Value>(
                "select to_jsonb(s) from workflow_steps s order by instance_id, step",
            )
            .fetch_all(pool)
            .await
            .unwrap(),
        );
        rows
    }

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn a_rebuild_gives_every_column_back(pool: PgPool) {
        let node = node(pool.clone()).await;
        run_workflows(&node).await;
        node.projector().catch_up().await.unwrap();
        let before = raw_rows(&pool).await;
        assert_eq!(before.len(), 3 + 3 * 4);
        node.read_models.reset().await.unwrap();
        assert!(raw_rows(&pool).await.is_empty());
        node.projector().catch_up().await.unwrap();
        assert_eq!(raw_rows(&pool).await, before);
    }

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn a_batch_read_from_an_old_checkpoint_writes_nothing(pool: PgPool) {
        super::a_batch_read_from_an_old_checkpoint_writes_nothing(node(pool).await).await;
    }

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn one_node_at_a_time_projects(pool: PgPool) {
        let read_models = PgReadModels::new(pool.clone());
        let batch = application::ports::ProjectionBatch {
            after: 0,
            through: 1,
            changes: Vec::new(),
        };
        // Another node holds the projection, then lets it go.
        let mut other = pool.acquire().await.unwrap();
        for (statement, outcome, checkpoint) in [
            ("select pg_advisory_lock($1)", ApplyOutcome::Busy, 0),
            ("select pg_advisory_unlock($1)", ApplyOutcome::Applied, 1),
        ] {
            sqlx::query(statement)
                .bind(i64::from_be_bytes(*b"distorch"))
                .execute(&mut *other)
                .await
                .unwrap();
            assert_eq!(read_models.apply(&batch).await.unwrap(), outcome);
            assert_eq!(read_models.checkpoint().await.unwrap(), checkpoint);
        }
    }

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn definitions_are_stored_once_per_version(pool: PgPool) {
        let store = PgReadModels::new(pool);
        let registry = DefinitionRegistry::default();
        catalog::deploy(&registry, &store, ORDER).await.unwrap();
        catalog::deploy(&registry, &store, ORDER).await.unwrap();
        let changed = ORDER.replace(
            "queue: work\n    compensate",
            "queue: other\n    compensate",
        );
        let elsewhere = DefinitionRegistry::default();
        assert!(matches!(
            catalog::deploy(&elsewhere, &store, &changed).await,
            Err(catalog::DeployError::Refused(
                application::Error::Invalid { .. }
            ))
        ));
        let fresh = DefinitionRegistry::default();
        assert_eq!(catalog::load_stored(&fresh, &store).await.unwrap(), 1);
        assert_eq!(fresh.get("order", Some(1)).unwrap().name, "order");
    }
}

mod sqlite {
    use infrastructure::store::{SqliteEventStore, SqliteReadModels};

    use super::*;

    async fn node() -> (tempfile::TempDir, Node<SqliteEventStore, SqliteReadModels>) {
        let (dir, store) = support::sqlite_store().await;
        let read_models = store.read_models();
        (dir, Node::new(store, read_models).await)
    }

    #[tokio::test]
    async fn projects_the_log_and_rebuilds_every_row_identical() {
        let (_dir, node) = node().await;
        super::projects_the_log_and_rebuilds_every_row_identical(node).await;
    }

    #[tokio::test]
    async fn a_batch_read_from_an_old_checkpoint_writes_nothing() {
        let (_dir, node) = node().await;
        super::a_batch_read_from_an_old_checkpoint_writes_nothing(node).await;
    }
}
