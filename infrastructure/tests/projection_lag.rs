//! The read models' lag behind the event log on the real PostgreSQL
//! store: reported at scrape time, and failing readiness past the limit.

mod support;

use std::sync::Arc;
use std::time::Duration;

use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::metrics::{Metrics, Telemetry};
use application::projection::{Projector, ReadModelLag};
use application::{Engine, Origin};
use infrastructure::store::{PgEventStore, PgReadModels};
use serde_json::json;
use sqlx::PgPool;

const WAITING: &str = r#"
name: waiting
version: 1
steps:
  work: { type: task, queue: work }
"#;

struct Node {
    engine: Arc<Engine<PgEventStore>>,
    read_models: PgReadModels,
    registry: Arc<DefinitionRegistry>,
}

impl Node {
    fn new(pool: &PgPool) -> Self {
        let registry = support::registry(&[WAITING]);
        Self {
            engine: support::engine(PgEventStore::new(pool.clone()), registry.clone()),
            read_models: PgReadModels::new(pool.clone()),
            registry,
        }
    }

    /// Telemetry whose readiness tolerates `max_lag`.
    fn telemetry(&self, max_lag: Duration) -> Telemetry {
        let probe = ReadModelLag::new(self.read_models.clone());
        Telemetry::new(
            Arc::new(Metrics::new()),
            self.registry.clone(),
            Arc::new(SystemClock::default()),
        )
        .with_projections(Arc::new(probe), max_lag)
    }

    async fn start_some(&self, count: usize) {
        for _ in 0..count {
            self.engine
                .start("waiting", None, json!({}), &Origin::actor("test"))
                .await
                .unwrap();
        }
    }
}

/// The value of `name{projection="read_models"}` in a rendering.
fn sample(text: &str, name: &str) -> f64 {
    let prefix = format!("{name}{{projection=\"read_models\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn unprojected_events_are_lag_and_fail_readiness_past_the_limit(pool: PgPool) {
    let node = Node::new(&pool);
    node.start_some(3).await;
    let strict = node.telemetry(Duration::ZERO);

    let text = strict.render().await;
    assert!(
        sample(&text, "distorch_projection_lag_events") >= 3.0,
        "{text}"
    );
    assert!(
        sample(&text, "distorch_projection_lag_seconds") > 0.0,
        "{text}"
    );
    let readiness = strict.readiness().await;
    assert!(!readiness.is_ready());
    let check = readiness
        .checks
        .iter()
        .find(|check| check.name == "projections")
        .unwrap();
    let problem = check.problem.as_deref().unwrap();
    assert!(
        problem.contains("read_models projection trails the log"),
        "{problem}"
    );

    Projector::new(node.engine.clone(), node.read_models.clone())
        .catch_up()
        .await
        .unwrap();

    let text = strict.render().await;
    assert_eq!(
        sample(&text, "distorch_projection_lag_events"),
        0.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "distorch_projection_lag_seconds"),
        0.0,
        "{text}"
    );
    assert!(strict.readiness().await.is_ready());
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_lag_within_the_limit_keeps_the_node_ready(pool: PgPool) {
    let node = Node::new(&pool);
    node.start_some(2).await;
    let tolerant = node.telemetry(Duration::from_secs(3600));

    let readiness = tolerant.readiness().await;

    assert!(readiness.is_ready(), "{readiness:?}");
    let text = tolerant.render().await;
    assert!(
        sample(&text, "distorch_projection_lag_events") >= 2.0,
        "{text}"
    );
}
