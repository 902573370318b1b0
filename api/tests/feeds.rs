//! The event feeds against a real PostgreSQL: a resumed SSE stream repeats
//! and loses nothing, filters pass exactly what they name, a slow consumer
//! is let go with a position it resumes from, and WebSocket carries the same.

mod support;

use std::time::Duration;

use application::feed::FeedConfig;
use application::ports::EventStore;
use futures_lite::StreamExt;
use serde_json::Value;
use sqlx::PgPool;
use support::{App, Received, SseClient};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// Guards against a hang only; no test depends on how fast anything is.
const HANG: Duration = Duration::from_secs(60);

fn positions(events: &[Received]) -> Vec<i64> {
    events.iter().map(|event| event.id.unwrap()).collect()
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_stream_killed_mid_way_resumes_with_no_gap_and_no_duplicate(pool: PgPool) {
    let app = App::new(pool, FeedConfig::default(), true).await;
    app.start("alpha").await;
    let url = format!("{}/api/v1/events/stream?after=0", app.url);
    let mut first = SseClient::connect(&url, None).await;
    let running = {
        let engine = app.engine.clone();
        tokio::spawn(async move {
            for n in 0..40 {
                let definition = if n % 3 == 0 { "beta" } else { "alpha" };
                engine
                    .start(
                        definition,
                        None,
                        Value::Null,
                        &application::Origin::actor("t"),
                    )
                    .await
                    .unwrap();
            }
        })
    };
    let mut before = Vec::new();
    for _ in 0..25 {
        before.push(timeout(HANG, first.next()).await.unwrap().unwrap());
    }
    drop(first);
    running.await.unwrap();
    let log = app.log().await;
    let last = log.last().unwrap().position;
    let resume = before.last().unwrap().id;
    let mut second = SseClient::connect(&url, resume).await;
    let after = timeout(HANG, second.until(last)).await.unwrap();

    let received: Vec<Received> = before.into_iter().chain(after).collect();
    let expected: Vec<i64> = log.iter().map(|event| event.position).collect();
    assert_eq!(positions(&received), expected);
    for (event, recorded) in received.iter().zip(&log) {
        assert_eq!(event.event, recorded.event_type);
        assert_eq!(event.data["type"], recorded.event_type.as_str());
        assert_eq!(event.data["stream_id"], recorded.stream_id.0.to_string());
        assert_eq!(event.data["version"], recorded.version);
        assert_eq!(event.data["data"], recorded.data);
        assert_eq!(
            event.data["metadata"]["actor"],
            recorded.metadata.actor.as_str()
        );
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn filters_pass_exactly_the_workflow_definition_and_types_asked_for(pool: PgPool) {
    // Started before the node: the feed learns their definitions from the store.
    let app = App::new(pool, FeedConfig::default(), false).await;
    let early_alpha = app.start("alpha").await;
    app.start("beta").await;
    let tail = app.feed.clone();
    tokio::spawn(async move { tail.run().await });
    let live_url = format!(
        "{}/api/v1/events/stream?after=0&definition=alpha&types=WorkflowCompleted,StepCompleted",
        app.url
    );
    let mut alpha_done = SseClient::connect(&live_url, None).await;
    let late_alpha = app.start("alpha").await;
    app.start("beta").await;
    let log = app.log().await;
    let wanted: Vec<_> = log
        .iter()
        .filter(|event| [early_alpha, late_alpha].contains(&event.stream_id))
        .filter(|event| ["WorkflowCompleted", "StepCompleted"].contains(&&*event.event_type))
        .collect();
    let last = wanted.last().unwrap().position;
    let received = timeout(HANG, alpha_done.until(last)).await.unwrap();
    let expected: Vec<i64> = wanted.iter().map(|event| event.position).collect();
    assert_eq!(positions(&received), expected);
    assert_eq!(
        expected.len(),
        6,
        "two alphas, each with two steps and an end"
    );

    let one = format!("{}/api/v1/workflows/{}/stream", app.url, late_alpha.0);
    let history = app.engine.store().load(late_alpha, 0).await.unwrap();
    let mut workflow = SseClient::connect(&one, None).await;
    let received = timeout(HANG, workflow.until(history.last().unwrap().position))
        .await
        .unwrap();
    let expected: Vec<i64> = history.iter().map(|event| event.position).collect();
    assert_eq!(positions(&received), expected);

    let client = reqwest::Client::new();
    for (path, status) in [
        (format!("/api/v1/workflows/{}/stream", uuid_nil()), 404),
        ("/api/v1/workflows/nope/stream".to_owned(), 400),
        ("/api/v1/events/stream?after=-1".to_owned(), 400),
        ("/api/v1/events/stream?workflow=nope".to_owned(), 400),
        ("/api/v1/events/stream?color=red".to_owned(), 400),
    ] {
        let response = client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

fn uuid_nil() -> String {
    "00000000-0000-0000-0000-000000000000".to_owned()
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_slow_consumer_is_let_go_with_a_position_it_resumes_from(pool: PgPool) {
    // The tail is stepped by hand: each append is one transaction of at
    // least four events, so any read the tail publishes overflows a ring
    // of two before the subscriber (on this one-thread runtime) takes any.
    let config = FeedConfig {
        capacity: 2,
        batch: 512,
    };
    let app = App::new(pool, config, false).await;
    app.start("beta").await;
    app.publish_all().await;
    let head = app.feed.position();
    let url = format!("{}/api/v1/events/stream", app.url);
    let mut slow = SseClient::connect(&url, None).await;
    for _ in 0..3 {
        app.start("alpha").await;
    }
    app.publish_all().await;

    let lagged = timeout(HANG, slow.next()).await.unwrap().unwrap();
    assert_eq!(lagged.event, "lagged");
    assert_eq!(lagged.id, Some(head));
    assert_eq!(lagged.data["resume_after"], head);
    assert_eq!(
        timeout(HANG, slow.next()).await.unwrap(),
        None,
        "it is let go"
    );

    let log = app.log().await;
    let mut resumed = SseClient::connect(&url, lagged.id).await;
    let received = timeout(HANG, resumed.until(log.last().unwrap().position))
        .await
        .unwrap();
    let expected: Vec<i64> = log
        .iter()
        .map(|event| event.position)
        .filter(|position| *position > head)
        .collect();
    assert_eq!(positions(&received), expected);
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn the_websocket_feed_carries_the_same_events(pool: PgPool) {
    let app = App::new(pool, FeedConfig::default(), true).await;
    app.start("alpha").await;
    let url =
        format!("{}/ws/events?after=0&types=WorkflowStarted", app.url).replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    app.start("beta").await;
    let log = app.log().await;
    let expected: Vec<i64> = log
        .iter()
        .filter(|event| event.event_type == "WorkflowStarted")
        .map(|event| event.position)
        .collect();
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let message = timeout(HANG, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let event: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(event["type"], "WorkflowStarted");
            received.push(event["position"].as_i64().unwrap());
        }
    }
    assert_eq!(received, expected);
}

/// The embedded store feeds the same way: its head is the newest event, a
/// live subscriber gets what follows, a resumed one the whole log after.
#[tokio::test]
async fn the_embedded_store_feeds_live_and_resumed_subscribers() {
    use std::sync::Arc;

    use application::clock::SystemClock;
    use application::definitions::DefinitionRegistry;
    use application::feed::{EventFeed, FeedFilter, FeedItem, FeedSignal, FeedStart};
    use application::{Engine, Origin};
    use infrastructure::store::SqliteEventStore;

    // Removed with SQLite's -wal and -shm files when dropped.
    let folder = tempfile::tempdir().unwrap();
    let store = SqliteEventStore::open(&folder.path().join("feed.db"))
        .await
        .unwrap();
    let registry = Arc::new(DefinitionRegistry::default());
    registry
        .register(domain::parse_workflow(support::DEFINITIONS[1]).unwrap())
        .unwrap();
    let engine = Engine::new(store.clone(), registry, Arc::new(SystemClock::default()));
    let origin = Origin::actor("test");
    let start = || engine.start("beta", None, Value::Null, &origin);
    start().await.unwrap();
    let feed = Arc::new(EventFeed::new(
        Arc::new(store.clone()),
        Arc::new(FeedSignal::default()),
        FeedConfig::default(),
    ));
    feed.run_once().await.unwrap();
    let mut live = feed.subscribe(FeedFilter::default(), FeedStart::Live);
    let mut resumed = feed.subscribe(FeedFilter::default(), FeedStart::After(0));
    start().await.unwrap();
    feed.run_once().await.unwrap();
    let log = store.read_all(0, 1000).await.unwrap();
    let head = feed.position();
    assert_eq!(head, log.last().unwrap().position);

    let take = async |subscription: &mut application::feed::FeedSubscription<_>| {
        let mut positions = Vec::new();
        while positions.last() != Some(&head) {
            match subscription.next().await.unwrap().unwrap() {
                FeedItem::Event(event) => positions.push(event.position),
                FeedItem::Lagged { .. } => panic!("no subscriber lags here"),
            }
        }
        positions
    };
    let first_run = log
        .iter()
        .filter(|e| e.version == 1)
        .nth(1)
        .unwrap()
        .position;
    let all: Vec<i64> = log.iter().map(|event| event.position).collect();
    assert_eq!(
        take(&mut live).await,
        all[all.iter().position(|p| *p == first_run).unwrap()..]
    );
    assert_eq!(take(&mut resumed).await, all);
}

/// A subscriber that caught up (and found nothing readable: an older
/// transaction held the log back) before the tail read the log's head for
/// the first time still gets what was held back. The tail used to start
/// at the head it read later, past those events, and never publish them.
#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn events_held_back_while_a_subscriber_caught_up_still_reach_it(pool: PgPool) {
    use application::feed::{FeedFilter, FeedItem, FeedStart};

    let app = App::new(pool.clone(), FeedConfig::default(), false).await;
    // A transaction with an id holds every gap-safe reader back until it ends.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("select txid_current()")
        .execute(&mut *blocker)
        .await
        .unwrap();
    app.start("alpha").await;
    let mut subscriber = app
        .feed
        .subscribe(FeedFilter::default(), FeedStart::After(0));
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(FeedItem::Event(event))) = subscriber.next().await {
            let _ = sender.send(event.position);
        }
    });
    // Let the subscriber read the (held back) log and turn to the ring.
    tokio::time::sleep(Duration::from_millis(300)).await;
    blocker.commit().await.unwrap();
    app.publish_all().await;

    let expected: Vec<i64> = app.log().await.iter().map(|event| event.position).collect();
    let mut positions = Vec::new();
    while positions.len() < expected.len() {
        positions.push(timeout(HANG, received.recv()).await.unwrap().unwrap());
    }
    assert_eq!(positions, expected);
}
