//! A workflow's trace context reaches its HTTP steps: the `traceparent`
//! header an HTTP step sends names the workflow's trace, also for a step
//! scheduled after a timer fired on another node (an engine with nothing
//! cached), on the real PostgreSQL store.

mod support;

use std::sync::Arc;
use std::time::Duration;

use application::loops::{OutboxRelay, ResultConsumer, TimerPoller, Worker};
use application::ports::{Bus, EventStore, Subscription};
use application::trace::TraceParent;
use application::{Engine, Origin};
use domain::InstanceId;
use domain::instance::InstanceStatus;
use infrastructure::http::HttpExecutor;
use infrastructure::local_bus::LocalBus;
use infrastructure::store::PgEventStore;
use serde_json::json;
use sqlx::PgPool;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TRACED: &str = r#"
name: traced
version: 1
steps:
  first:
    type: http
    request: { method: POST, url: "${ input.url }/first" }
  pause:
    type: wait
    needs: [first]
    duration: 5ms
  second:
    type: http
    needs: [pause]
    request: { method: POST, url: "${ input.url }/second" }
"#;

/// An engine node on the shared store, with its own bus and HTTP worker.
struct Node {
    engine: Arc<Engine<PgEventStore>>,
    bus: LocalBus,
}

impl Node {
    fn new(pool: &PgPool) -> Self {
        Self {
            engine: support::engine(
                PgEventStore::new(pool.clone()),
                support::registry(&[TRACED]),
            ),
            bus: LocalBus::default(),
        }
    }

    /// Runs the loops until nothing moves: tasks published, run by the HTTP
    /// worker, results applied, and (if `fire_timers`) due timers fired.
    async fn settle(&self, fire_timers: bool) {
        let relay = OutboxRelay::new(self.engine.clone(), self.bus.clone());
        let poller = TimerPoller::new(self.engine.clone());
        let consumer = ResultConsumer::new(self.engine.clone(), self.bus.clone());
        let worker = Worker::new(
            self.bus.clone(),
            "http",
            "test",
            HttpExecutor::new().unwrap(),
        );
        let mut tasks = self.bus.consume_tasks("http", 16).await.unwrap();
        let mut results = self.bus.consume_results(16).await.unwrap();
        for _ in 0..100 {
            let mut progressed = relay.run_once().await.unwrap() > 0;
            while self.bus.waiting("http") > 0 {
                let delivery = tasks.next().await.unwrap().unwrap();
                worker.handle(delivery).await.unwrap();
                progressed = true;
            }
            while self.bus.results_waiting() > 0 {
                let delivery = results.next().await.unwrap().unwrap();
                consumer.handle(delivery).await.unwrap();
                progressed = true;
            }
            if fire_timers {
                progressed |= poller.run_once().await.unwrap() > 0;
            }
            if !progressed {
                return;
            }
        }
        panic!("the loops never settled");
    }

    async fn status(&self, id: InstanceId) -> InstanceStatus {
        self.engine.state(id).await.unwrap().status
    }
}

async fn answering_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    server
}

/// The `traceparent` of every request the server received, in order.
async fn traceparents(server: &MockServer) -> Vec<(String, TraceParent)> {
    let mut seen = Vec::new();
    for request in server.received_requests().await.unwrap_or_default() {
        let header = request
            .headers
            .get("traceparent")
            .unwrap_or_else(|| panic!("{} came without traceparent", request.url))
            .to_str()
            .unwrap()
            .to_owned();
        let parsed = TraceParent::parse(&header)
            .unwrap_or_else(|| panic!("not a W3C traceparent: {header}"));
        seen.push((request.url.path().to_owned(), parsed));
    }
    seen
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn http_steps_continue_the_trace_the_start_came_with_even_on_another_node(pool: PgPool) {
    let server = answering_server().await;
    let incoming =
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let first_node = Node::new(&pool);
    let origin = Origin {
        traceparent: Some(incoming),
        ..Origin::actor("test")
    };
    let id = first_node
        .engine
        .start("traced", None, json!({"url": server.uri()}), &origin)
        .await
        .unwrap();

    first_node.settle(false).await;
    assert_eq!(first_node.status(id).await, InstanceStatus::Running);
    // The wait's timer fires on a node that never saw this instance.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second_node = Node::new(&pool);
    second_node.settle(true).await;

    assert_eq!(second_node.status(id).await, InstanceStatus::Completed);
    let seen = traceparents(&server).await;
    let paths: Vec<&str> = seen.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(paths, ["/first", "/second"]);
    for (path, traceparent) in &seen {
        assert_eq!(traceparent.trace_id(), incoming.trace_id(), "{path}");
        assert_ne!(traceparent, &incoming, "{path}: a new parent span");
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_start_without_trace_context_begins_a_trace_kept_in_its_first_event(pool: PgPool) {
    let server = answering_server().await;
    let node = Node::new(&pool);
    let id = node
        .engine
        .start(
            "traced",
            None,
            json!({"url": server.uri()}),
            &Origin::actor("test"),
        )
        .await
        .unwrap();
    node.settle(false).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    node.settle(true).await;

    let events = node.engine.store().load(id, 0).await.unwrap();
    let started = events[0].metadata.traceparent.as_deref().unwrap();
    let trace = TraceParent::parse(started).unwrap();
    for event in &events {
        let traceparent = event.metadata.traceparent.as_deref().unwrap();
        assert_eq!(
            TraceParent::parse(traceparent).unwrap().trace_id(),
            trace.trace_id(),
            "{}",
            event.event_type
        );
    }
    let seen = traceparents(&server).await;
    assert_eq!(seen.len(), 2);
    for (path, traceparent) in &seen {
        assert_eq!(traceparent.trace_id(), trace.trace_id(), "{path}");
    }
}
