//! `distorch bench --mode feeds`: SSE subscribers on a node while workflows
//! run at a fixed rate (PostgreSQL, in-process queue and worker). Reports,
//! over every event each subscriber received, the delay from the event's
//! `recorded_at` (its append's statement time, within a millisecond of its
//! commit) to its arrival at the subscriber, and whether every subscriber
//! got every event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use api::{ApiConfig, Limits};
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::feed::FeedSignal;
use application::ports::ProjectionWriter;
use application::{Engine, Origin};
use chrono::{DateTime, Utc};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::postgres_bench::ScratchDatabase;
use infrastructure::store::{PgEventStore, forward_notifications};
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::watch;

use super::node::{spawn_echo_worker, spawn_feed, spawn_loops};
use super::stores;

#[derive(Debug)]
pub struct FeedBench {
    pub database_url: String,
    pub subscribers: usize,
    /// Workflows started per second.
    pub rate: u32,
    pub seconds: u64,
    /// `types=` of every subscriber's filter; all events when empty.
    pub types: String,
}

/// What one subscriber saw: the delay of each event, in milliseconds.
type Seen = Vec<f32>;

pub async fn run(bench: FeedBench, registry: Arc<DefinitionRegistry>) -> anyhow::Result<()> {
    let name = format!("distorch_bench_feeds_{}", std::process::id());
    let database = ScratchDatabase::create(&bench.database_url, &name)
        .await
        .context("PostgreSQL")?;
    let outcome = measure(&bench, registry, database.options()).await;
    database.drop().await?;
    outcome
}

async fn measure(
    bench: &FeedBench,
    registry: Arc<DefinitionRegistry>,
    database: PgConnectOptions,
) -> anyhow::Result<()> {
    let pool = stores::postgres(database, 16).await?;
    let clock = Arc::new(SystemClock::default());
    let engine = Arc::new(Engine::new(
        PgEventStore::new(pool.clone()),
        registry,
        clock,
    ));
    let signal = Arc::new(FeedSignal::default());
    let read_models = infrastructure::store::PgReadModels::new(pool.clone());
    tokio::spawn(forward_notifications(
        pool,
        engine.timers_written.clone(),
        signal.clone(),
    ));
    let feed = spawn_feed(&engine, signal, true);
    let bus = LocalBus::default();
    let metrics = Arc::new(application::metrics::Metrics::new());
    let crew = super::fleet::Crew::default();
    spawn_loops(&engine, &bus, &[], false, &metrics, &crew)?;
    spawn_echo_worker(&bus, "bench", &metrics, &crew);
    let config = ApiConfig {
        limits: Limits {
            requests_per_second: 1e9,
            burst: u32::MAX,
            ..Limits::default()
        },
        ..ApiConfig::default()
    };
    let log = read_models.clone();
    let router = api::router(engine.clone(), read_models, feed.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!(
        "http://{}/api/v1/events/stream?types={}",
        listener.local_addr()?,
        bench.types
    );
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (stop, stopped) = watch::channel(None);
    let client = reqwest::Client::new();
    let mut subscribers = Vec::new();
    for _ in 0..bench.subscribers {
        let response = client.get(&url).send().await?.error_for_status()?;
        subscribers.push(tokio::spawn(subscribe(
            response,
            stopped.clone(),
            !bench.types.is_empty(),
        )));
    }
    println!(
        "mode: feeds ({} SSE subscribers, types={:?}, {} workflows/s for {} s, PostgreSQL, in-process worker)",
        bench.subscribers, bench.types, bench.rate, bench.seconds
    );

    let origin = Origin::actor("bench");
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / bench.rate);
    let mut starts = Vec::new();
    while started.elapsed() < Duration::from_secs(bench.seconds) {
        ticks.tick().await;
        let engine = engine.clone();
        let origin = origin.clone();
        starts.push(tokio::spawn(async move {
            engine
                .start("bench-order", None, json!({"fail": false}), &origin)
                .await
        }));
    }
    let count = starts.len();
    for start in starts {
        start.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Let the last workflows finish, then wait until every subscriber has
    // the log's last event (at most a minute).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let last = log.log_head().await?;
    stop.send(Some(last))?;
    let mut delays = Vec::new();
    let mut per_subscriber = Vec::new();
    for subscriber in subscribers {
        let seen = subscriber.await?;
        per_subscriber.push(seen.len());
        delays.extend(seen);
    }
    println!(
        "started {count} workflows in {elapsed:.1} s ({:.0}/s)",
        count as f64 / elapsed
    );
    let fewest = per_subscriber.iter().min().copied().unwrap_or(0);
    let most = per_subscriber.iter().max().copied().unwrap_or(0);
    println!(
        "events per subscriber: {fewest}..{most} ({} deliveries in all)",
        delays.len()
    );
    delays.sort_unstable_by(f32::total_cmp);
    if !delays.is_empty() {
        let at = |q: f64| delays[((delays.len() as f64 * q) as usize).min(delays.len() - 1)];
        println!(
            "delay recorded_at→subscriber: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            at(0.50),
            at(0.99),
            at(1.0)
        );
    }
    Ok(())
}

/// Reads one SSE response until it has the event at the position it is
/// told to stop at (or a minute after being told); the delay of each event.
/// With a `types` filter the stop position may never come: it stops a few
/// seconds after being told.
async fn subscribe(
    mut response: reqwest::Response,
    mut stop_at: watch::Receiver<Option<i64>>,
    filtered: bool,
) -> Seen {
    let mut seen = Vec::new();
    let mut buffer = String::new();
    let mut last = 0i64;
    let mut deadline = None;
    loop {
        let target = *stop_at.borrow();
        if target.is_some_and(|target| last >= target) {
            return seen;
        }
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk,
            changed = stop_at.changed(), if deadline.is_none() => {
                if changed.is_err() { return seen; }
                let grace = if filtered { 5 } else { 60 };
                deadline = Some(tokio::time::Instant::now() + Duration::from_secs(grace));
                continue;
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => return seen,
        };
        let Ok(Some(chunk)) = chunk else {
            return seen;
        };
        let arrived = Utc::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let frame = &buffer[..end];
            if let Some(id) = frame.lines().find_map(|line| line.strip_prefix("id: ")) {
                last = id.trim().parse().unwrap_or(last);
            }
            if let Some(recorded) = recorded_at(frame) {
                let delay = (arrived - recorded).num_microseconds().unwrap_or(0);
                seen.push(delay as f32 / 1000.0);
            }
            buffer.drain(..end + 2);
        }
    }
}

fn recorded_at(frame: &str) -> Option<DateTime<Utc>> {
    const KEY: &str = "\"recorded_at\":\"";
    let start = frame.find(KEY)? + KEY.len();
    let end = start + frame[start..].find('"')?;
    DateTime::parse_from_rfc3339(&frame[start..end])
        .ok()
        .map(|time| time.with_timezone(&Utc))
}
