//! The worker registry on PostgreSQL and SQLite: the same records come
//! back, a drain is sticky, a worker is found by a task it holds, old
//! records are forgotten. And the presence round trip on the embedded bus.

mod support;

use application::fleet::{self, Transport, WorkerRecord, WorkerStatus};
use application::ports::WorkerRegistry;
use chrono::{DateTime, Duration, SubsecRound, Utc};

fn record(id: &str, name: &str, at: DateTime<Utc>) -> WorkerRecord {
    WorkerRecord {
        id: id.into(),
        name: name.into(),
        host: "host-1".into(),
        version: "0.1.0".into(),
        transport: Transport::Bus,
        queues: vec!["payments".into(), "shipping".into()],
        capacity: 16,
        in_flight: vec!["a:charge:forward:1".into()],
        completed: 7,
        failed: 2,
        started_at: at - Duration::minutes(5),
        last_seen: at,
        draining: false,
        gone: false,
    }
}

async fn keeps_records_and_a_drain_sticks(registry: &dyn WorkerRegistry) {
    let now = Utc::now().trunc_subsecs(6);
    let first = record("w-1", "alpha", now);
    registry.put(&first).await.unwrap();
    registry.put(&record("w-2", "beta", now)).await.unwrap();
    assert_eq!(registry.get("w-1").await.unwrap(), Some(first.clone()));
    assert_eq!(registry.get("nobody").await.unwrap(), None);
    let names: Vec<String> = registry
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|worker| worker.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);

    assert!(registry.mark_draining("w-1").await.unwrap());
    assert!(!registry.mark_draining("nobody").await.unwrap());
    // A heartbeat that says nothing of the drain does not undo it.
    registry.put(&record("w-1", "alpha", now)).await.unwrap();
    let drained = registry.get("w-1").await.unwrap().unwrap();
    assert!(drained.draining);
    assert_eq!(drained.status(now), WorkerStatus::Draining);

    let holder = registry
        .holding("a:charge:forward:1")
        .await
        .unwrap()
        .unwrap();
    assert!(["w-1", "w-2"].contains(&holder.id.as_str()));
    assert_eq!(registry.holding("a:other:forward:1").await.unwrap(), None);

    let old = record("w-3", "gamma", now - Duration::days(2));
    registry.put(&old).await.unwrap();
    assert_eq!(registry.forget(now - Duration::days(1)).await.unwrap(), 1);
    assert_eq!(registry.get("w-3").await.unwrap(), None);
}

async fn counts_an_http_workers_tasks(registry: &dyn WorkerRegistry) {
    let now = Utc::now().trunc_subsecs(6);
    assert!(
        !fleet::poll_seen(registry, "p-1", "poller", "payments", now)
            .await
            .unwrap()
    );
    fleet::task_taken(registry, "p-1", "t:charge:forward:1", now)
        .await
        .unwrap();
    let busy = registry.get("p-1").await.unwrap().unwrap();
    assert_eq!(busy.transport, Transport::Http);
    assert_eq!(busy.status(now), WorkerStatus::Busy);
    fleet::task_reported(registry, "t:charge:forward:1", Some(true), now)
        .await
        .unwrap();
    let idle = registry.get("p-1").await.unwrap().unwrap();
    assert_eq!(
        (idle.in_flight.len(), idle.completed, idle.failed),
        (0, 0, 1)
    );
    assert_eq!(idle.status(now), WorkerStatus::Idle);
}

mod postgres {
    use infrastructure::store::PgReadModels;
    use sqlx::PgPool;

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn keeps_records_and_a_drain_sticks(pool: PgPool) {
        super::keeps_records_and_a_drain_sticks(&PgReadModels::new(pool)).await;
    }

    #[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
    async fn counts_an_http_workers_tasks(pool: PgPool) {
        super::counts_an_http_workers_tasks(&PgReadModels::new(pool)).await;
    }
}

mod sqlite {
    use super::support;

    #[tokio::test]
    async fn keeps_records_and_a_drain_sticks() {
        let (_dir, store) = support::sqlite_store().await;
        super::keeps_records_and_a_drain_sticks(&store.read_models()).await;
    }

    #[tokio::test]
    async fn counts_an_http_workers_tasks() {
        let (_dir, store) = support::sqlite_store().await;
        super::counts_an_http_workers_tasks(&store.read_models()).await;
    }
}
