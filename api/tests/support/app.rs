//! A node's API on a real PostgreSQL, in-process, on a port of its own:
//! the engine, the event feed (woken by LISTEN/NOTIFY) and the router.

use std::sync::Arc;

use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::feed::{EventFeed, FeedConfig, FeedSignal};
use application::ports::{EventStore, RecordedEvent};
use application::{Engine, Origin};
use domain::InstanceId;
use infrastructure::store::{PgEventStore, forward_notifications};
use serde_json::json;
use sqlx::PgPool;

use super::DEFINITIONS;

pub struct App {
    pub engine: Arc<Engine<PgEventStore>>,
    pub feed: Arc<EventFeed<PgEventStore>>,
    pub url: String,
}

impl App {
    /// The engine and the feed, woken by the database's notifications; the
    /// tail runs on its own unless `tail` is false (the test then runs or
    /// steps it).
    pub async fn new(pool: PgPool, config: FeedConfig, tail: bool) -> Self {
        Self::with(pool, config, tail, |_| api::ApiConfig::default()).await
    }

    /// As [`App::new`], with the API configured from the store.
    pub async fn with(
        pool: PgPool,
        config: FeedConfig,
        tail: bool,
        api_config: impl FnOnce(&PgEventStore) -> api::ApiConfig,
    ) -> Self {
        let registry = Arc::new(DefinitionRegistry::default());
        for source in DEFINITIONS {
            registry
                .register(domain::parse_workflow(source).unwrap())
                .unwrap();
        }
        let store = PgEventStore::new(pool.clone());
        let store_for_api = store.clone();
        let engine = Arc::new(Engine::new(
            store.clone(),
            registry,
            Arc::new(SystemClock::default()),
        ));
        let signal = Arc::new(FeedSignal::default());
        let feed = Arc::new(EventFeed::new(Arc::new(store), signal.clone(), config));
        let read_models = infrastructure::store::PgReadModels::new(pool.clone());
        tokio::spawn(forward_notifications(
            pool,
            engine.timers_written.clone(),
            signal,
        ));
        if tail {
            let tail = feed.clone();
            tokio::spawn(async move { tail.run().await });
        }
        let router = api::router(
            engine.clone(),
            read_models,
            feed.clone(),
            api_config(&store_for_api),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { engine, feed, url }
    }

    pub async fn start(&self, definition: &str) -> InstanceId {
        self.engine
            .start(definition, None, json!({}), &Origin::actor("test"))
            .await
            .unwrap()
    }

    /// Steps the feed's tail until it has published the whole log.
    pub async fn publish_all(&self) {
        let last = self.log().await.last().map_or(0, |event| event.position);
        while self.feed.position() < last {
            self.feed.run_once().await.unwrap();
        }
    }

    /// The whole log, in order, once every event committed so far is
    /// readable (a transaction running elsewhere in the cluster, even in
    /// another database, holds gap-safe readers back for a moment).
    pub async fn log(&self) -> Vec<RecordedEvent> {
        let store = self.engine.store();
        let count: i64 = sqlx::query_scalar("select count(*) from events")
            .fetch_one(store.pool())
            .await
            .unwrap();
        loop {
            let log = store.read_all(0, 100_000).await.unwrap();
            if log.len() as i64 == count {
                return log;
            }
            tokio::task::yield_now().await;
        }
    }
}
