//! `distorch bench-reads`: `GET /api/v1/workflows/{id}` under load. Seeds the
//! read models of a fresh PostgreSQL database with N finished workflows of
//! five steps each, serves the API in this process and runs K clients that
//! each request a random workflow in a loop for a fixed time. Reports
//! requests per second and latency percentiles.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use application::Engine;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use infrastructure::store::postgres_bench::{self, ScratchDatabase};
use infrastructure::store::{PgEventStore, PgReadModels};
use uuid::Uuid;

use super::stores;

#[derive(Debug, clap::Args)]
pub struct BenchReadsArguments {
    /// Workflows in the read models.
    #[arg(long, default_value_t = 100_000)]
    workflows: u32,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// How long the clients run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// PostgreSQL server; the bench creates and drops its own database there.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
}

pub fn run(arguments: BenchReadsArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let name = format!("distorch_bench_reads_{}", std::process::id());
        let database = ScratchDatabase::create(&arguments.database_url, &name)
            .await
            .context("PostgreSQL")?;
        let outcome = bench(&arguments, &database).await;
        database.drop().await?;
        outcome
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn bench(arguments: &BenchReadsArguments, database: &ScratchDatabase) -> anyhow::Result<()> {
    let pool = stores::postgres(database.options(), 32).await?;
    let seeding = Instant::now();
    let ids = postgres_bench::seed_finished_workflows(&pool, arguments.workflows).await?;
    println!(
        "seeded {} workflows (5 steps each) in {:.1} s",
        ids.len(),
        seeding.elapsed().as_secs_f64()
    );
    let engine = Arc::new(Engine::new(
        PgEventStore::new(pool.clone()),
        Arc::new(DefinitionRegistry::default()),
        Arc::new(SystemClock::default()),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    // No feed tail runs: the bench reads workflows only.
    let feed = Arc::new(application::feed::EventFeed::new(
        Arc::new(PgEventStore::new(pool.clone())),
        Arc::new(application::feed::FeedSignal::default()),
        application::feed::FeedConfig::default(),
    ));
    // The clients all come from here: no rate limit in the way.
    let config = api::ApiConfig {
        limits: api::Limits {
            requests_per_second: 1e9,
            burst: u32::MAX,
            ..api::Limits::default()
        },
        ..api::ApiConfig::default()
    };
    let router = api::router(engine, PgReadModels::new(pool), feed, config);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(arguments.clients)
        .build()?;
    let ids = Arc::new(ids);
    let deadline = Instant::now() + Duration::from_secs(arguments.seconds);
    let started = Instant::now();
    let clients: Vec<_> = (0..arguments.clients)
        .map(|n| {
            let (client, ids, url) = (client.clone(), ids.clone(), url.clone());
            tokio::spawn(async move { load(client, &ids, &url, n as u64 + 1, deadline).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for client in clients {
        let (samples, failed) = client.await?;
        latencies.extend(samples);
        errors += failed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    if latencies.is_empty() {
        bail!("no request succeeded ({errors} failed)");
    }
    println!(
        "GET /api/v1/workflows/{{id}}: {} clients, {:.0} s: {} requests, {:.0} req/s, \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {errors} errors",
        arguments.clients,
        elapsed,
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.50),
        at(0.99),
        at(1.0),
    );
    Ok(())
}

/// One client: random workflows until the deadline; latencies of the 200s
/// and the count of anything else.
async fn load(
    client: reqwest::Client,
    ids: &[Uuid],
    url: &str,
    seed: u64,
    deadline: Instant,
) -> (Vec<Duration>, u64) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        // xorshift64: a cheap, even spread over the ids.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let id = ids[(state % ids.len() as u64) as usize];
        let sent = Instant::now();
        match client
            .get(format!("{url}/api/v1/workflows/{id}"))
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                if response.bytes().await.is_ok() {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
            }
            _ => errors += 1,
        }
    }
    (latencies, errors)
}
