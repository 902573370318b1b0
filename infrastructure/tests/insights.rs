//! The console's read-side use cases (approvals waiting, the overview, step
//! figures) over both stores' read models: workflows run through the engine
//! and its loops, the projector projects the log, then each use case reads.

mod support;

use std::sync::Arc;

use application::approvals::{ApprovalQuery, waiting_approvals};
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::overview::{MINUTES, overview};
use application::ports::{
    DefinitionStore, EventStore, InsightQueries, OutboxQueue, ProjectionWriter, ReadModelQueries,
    ScheduleStore, TimerQueue,
};
use application::projection::Projector;
use application::step_figures::step_figures;
use application::{Engine, Origin, catalog};
use chrono::{Duration, Utc};
use domain::instance::Actor;
use infrastructure::local_bus::LocalBus;
use serde_json::json;
use support::ORDER;

const SIGN_OFF: &str = r#"
name: sign-off
version: 1
steps:
  ask:
    type: approval
    approvers: [role:approver]
    timeout: 1h
  ask_bob:
    type: approval
    approvers: [user:bob]
"#;

async fn reads_what_the_console_shows<S, R>(store: S, reads: R)
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
    R: ProjectionWriter
        + ReadModelQueries
        + InsightQueries
        + DefinitionStore
        + ScheduleStore
        + Clone,
{
    let registry = Arc::new(DefinitionRegistry::default());
    catalog::deploy(&registry, &reads, ORDER).await.unwrap();
    catalog::deploy(&registry, &reads, SIGN_OFF).await.unwrap();
    let engine = Arc::new(Engine::new(
        store,
        registry.clone(),
        Arc::new(SystemClock::default()),
    ));
    let bus = LocalBus::default();
    let origin = Origin::actor("test");
    let happy = engine
        .start("order", None, json!({}), &origin)
        .await
        .unwrap();
    let unhappy = engine
        .start("order", None, json!({"fail_confirm": true}), &origin)
        .await
        .unwrap();
    let asking = engine
        .start("sign-off", None, json!({"amount": 7}), &origin)
        .await
        .unwrap();
    support::settle(&engine, &bus).await;
    // Started after the loops settled: its first task waits for a worker.
    let waiting = engine
        .start("order", None, json!({}), &origin)
        .await
        .unwrap();
    Projector::new(engine.clone(), reads.clone())
        .catch_up()
        .await
        .unwrap();
    assert_eq!(
        reads.workflow(happy).await.unwrap().unwrap().status,
        "completed"
    );
    assert_eq!(
        reads.workflow(unhappy).await.unwrap().unwrap().status,
        "compensated"
    );

    let approver = ApprovalQuery {
        workflow: None,
        caller: Actor::new("apikey:a", &["approver"]),
        decidable_only: false,
    };
    let found = waiting_approvals(&reads, &registry, &approver)
        .await
        .unwrap();
    let steps: Vec<(&str, bool)> = found
        .iter()
        .map(|a| (a.step.as_str(), a.decidable))
        .collect();
    assert_eq!(steps, [("ask", true), ("ask_bob", false)]);
    let ask = &found[0];
    assert_eq!(ask.workflow, asking);
    assert_eq!(ask.input, json!({"amount": 7}));
    assert_eq!(ask.approvers, ["role:approver"]);
    assert_eq!(
        ask.due_at,
        Some(ask.requested_at.unwrap() + Duration::hours(1))
    );
    assert_eq!(found[1].due_at, None);
    let mine = ApprovalQuery {
        decidable_only: true,
        ..approver.clone()
    };
    let decidable = waiting_approvals(&reads, &registry, &mine).await.unwrap();
    assert_eq!(
        decidable
            .iter()
            .map(|a| a.step.as_str())
            .collect::<Vec<_>>(),
        ["ask"]
    );
    let viewer = ApprovalQuery {
        caller: Actor::new("apikey:v", &["viewer"]),
        ..mine.clone()
    };
    assert!(
        waiting_approvals(&reads, &registry, &viewer)
            .await
            .unwrap()
            .is_empty()
    );
    let elsewhere = ApprovalQuery {
        workflow: Some(happy),
        ..approver
    };
    assert!(
        waiting_approvals(&reads, &registry, &elsewhere)
            .await
            .unwrap()
            .is_empty()
    );

    let now = Utc::now();
    let seen = overview(&reads, &registry, now).await.unwrap();
    assert_eq!(seen.counts.get("completed"), Some(&1));
    assert_eq!(seen.counts.get("compensated"), Some(&1));
    assert_eq!(seen.counts.get("running"), Some(&2));
    assert_eq!(seen.minutes.len(), MINUTES as usize);
    assert_eq!(seen.minutes.iter().map(|m| m.started).sum::<u64>(), 4);
    assert_eq!(seen.last_hour.get("completed"), Some(&1));
    assert_eq!(seen.last_hour.get("compensated"), Some(&1));
    assert_eq!(seen.approvals_waiting, 2);
    assert_eq!(seen.queues.len(), 1, "{:?}", seen.queues);
    assert_eq!(
        (seen.queues[0].queue.as_str(), seen.queues[0].waiting),
        ("work", 1)
    );
    assert!(seen.queues[0].oldest <= now);
    assert!(reads.workflow(waiting).await.unwrap().is_some());

    let figures = step_figures(&reads, "order").await.unwrap();
    let of = |step: &str| figures.iter().find(|f| f.step == step).unwrap().clone();
    let confirm = of("confirm");
    assert_eq!((confirm.completed, confirm.failed), (1, 1));
    assert_eq!(confirm.failure_rate, Some(0.5));
    let reserve = of("reserve");
    assert_eq!(
        (reserve.completed, reserve.failed, reserve.failure_rate),
        (2, 0, Some(0.0))
    );
    let (p50, p95) = (reserve.p50_ms.unwrap(), reserve.p95_ms.unwrap());
    assert!(0.0 <= p50 && p50 <= p95, "{reserve:?}");
    assert!(matches!(
        step_figures(&reads, "nothing-by-this-name").await,
        Err(application::Error::NotFound { .. })
    ));
}

mod postgres {
    use infrastructure::store::{PgEventStore, PgReadModels};
    use sqlx::PgPool;

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn reads_what_the_console_shows(pool: PgPool) {
        super::reads_what_the_console_shows(
            PgEventStore::new(pool.clone()),
            PgReadModels::new(pool),
        )
        .await;
    }
}

mod sqlite {
    use infrastructure::store::SqliteEventStore;

    #[tokio::test]
    async fn reads_what_the_console_shows() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteEventStore::open(&dir.path().join("insights.db"))
            .await
            .unwrap();
        let reads = store.read_models();
        super::reads_what_the_console_shows(store, reads).await;
    }
}
