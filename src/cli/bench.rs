//! `distorch bench`: the order saga of the durable-execution issue — reserve,
//! then charge and ship in parallel, then confirm, then notify; every step a
//! task answered by a worker in a separate process — run N times with K in
//! flight. Reports throughput, latency, CPU per workflow (engine, worker,
//! PostgreSQL, RabbitMQ) and the engine's memory.

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::metrics::{MeteredStore, Metrics, Telemetry};
use application::ports::{EventStore, OutboxQueue, TimerQueue};
use application::{Engine, Origin};
use domain::InstanceId;
use domain::instance::InstanceStatus;
use infrastructure::bus::{RabbitBus, RabbitConfig};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::postgres_bench::{self, ScratchDatabase};
use infrastructure::store::{PgEventStore, PgStoreProbe, SqliteEventStore};
use serde_json::json;
use tokio::sync::Semaphore;

use super::node::{spawn_echo_worker, spawn_loops};
use super::stores;

const SAGA: &str = r#"
name: bench-order
version: 1
steps:
  reserve: { type: task, queue: bench, compensate: { type: task, queue: bench } }
  charge: { type: task, queue: bench, needs: [reserve], compensate: { type: task, queue: bench } }
  ship: { type: task, queue: bench, needs: [reserve], compensate: { type: task, queue: bench } }
  confirm: { type: task, queue: bench, needs: [charge, ship], input: { fail: "${ input.fail }" }, retry: { max_attempts: 1 } }
  notify: { type: task, queue: bench, needs: [confirm] }
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// PostgreSQL + RabbitMQ (DATABASE_URL, AMQP_URL), worker in its own process.
    Cluster,
    /// SQLite (the log and the queues in one file) and an in-process worker.
    Embedded,
    /// SSE subscribers while workflows run at `--rate` (PostgreSQL, in-process worker).
    Feeds,
}

#[derive(Debug, clap::Args)]
pub struct BenchArguments {
    #[arg(long, value_enum, default_value_t = Mode::Cluster)]
    mode: Mode,
    /// Workflows to run.
    #[arg(long, default_value_t = 2000)]
    workflows: usize,
    /// Workflows in flight at once.
    #[arg(long, default_value_t = 50)]
    in_flight: usize,
    /// Make `confirm` fail without retry, so three compensations run.
    #[arg(long)]
    failing: bool,
    /// Run the engine on the bare store: no metrics counted, none scraped.
    #[arg(long)]
    no_metrics: bool,
    /// Feeds mode: SSE subscribers.
    #[arg(long, default_value_t = 500)]
    subscribers: usize,
    /// Feeds mode: workflows started per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Feeds mode: seconds of load.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Feeds mode: the event types each subscriber asks for (`types=`), all when empty.
    #[arg(long, default_value = "")]
    feed_types: String,
    /// PostgreSQL server; the bench creates and drops its own database there.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// RabbitMQ; the bench creates and deletes its own vhost (with rabbitmqctl).
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
}

pub fn run(arguments: BenchArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(arguments))?;
    Ok(ExitCode::SUCCESS)
}

async fn bench(arguments: BenchArguments) -> anyhow::Result<()> {
    let registry = Arc::new(DefinitionRegistry::default());
    registry.register(
        domain::parse_workflow(SAGA).map_err(|problems| anyhow::anyhow!("{problems}"))?,
    )?;
    let clock = Arc::new(SystemClock::default());
    match arguments.mode {
        Mode::Feeds => {
            let bench = super::bench_feeds::FeedBench {
                database_url: arguments.database_url.clone(),
                subscribers: arguments.subscribers,
                rate: arguments.rate.max(1),
                seconds: arguments.seconds,
                types: arguments.feed_types.clone(),
            };
            super::bench_feeds::run(bench, registry).await?;
        }
        Mode::Embedded => {
            // Removed however the run ends.
            let dir = tempfile::Builder::new()
                .prefix("distorch-bench-")
                .tempdir()?;
            let store = SqliteEventStore::open(&dir.path().join("bench.db")).await?;
            let bus = LocalBus::durable(&store).await?;
            let engine = Arc::new(Engine::new(store, registry, clock));
            let metrics = Arc::new(Metrics::new());
            spawn_loops(&engine, &bus, &[], false, &metrics)?;
            spawn_echo_worker(&bus, "bench", &metrics);
            println!("mode: embedded (SQLite, queues in the same file, in-process worker)");
            measure(&engine, &arguments, &[]).await?;
        }
        Mode::Cluster => {
            let suffix = format!("{}", std::process::id());
            let name = format!("distorch_bench_{suffix}");
            let database = ScratchDatabase::create(&arguments.database_url, &name)
                .await
                .context("PostgreSQL")?;
            let vhost = format!("distorch-bench-{suffix}");
            rabbitmqctl(&["add_vhost", &vhost])?;
            rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"])?;
            let amqp_url = replace_last_segment(&arguments.amqp_url, &vhost)?;
            let outcome = async {
                let pool = stores::postgres(database.options(), 16).await?;
                let (rate, raw_commits) =
                    postgres_bench::raw_commit_rate(&pool, Duration::from_secs(2)).await?;
                println!("raw single-row commits: {rate:.0}/s");
                let bus = RabbitBus::connect(RabbitConfig {
                    url: amqp_url.clone(),
                    connection_name: "distorch-bench".into(),
                })
                .await?;
                let metrics = Arc::new(Metrics::new());
                let store = PgEventStore::new(pool.clone());
                let stats_pool = pool.clone();
                let result = if arguments.no_metrics {
                    println!("metrics: off");
                    let engine = Arc::new(Engine::new(store, registry, clock));
                    on_cluster(&engine, &bus, &metrics, &amqp_url, &arguments).await
                } else {
                    let telemetry =
                        Telemetry::new(metrics.clone(), registry.clone(), clock.clone())
                            .with_store(Arc::new(PgStoreProbe::new(pool)))
                            .with_broker(Arc::new(bus.clone()));
                    let scrapes = tokio::spawn(scrape_every(telemetry, SCRAPE_INTERVAL));
                    println!("metrics: on, scraped every {}s", SCRAPE_INTERVAL.as_secs());
                    let store = MeteredStore::new(store, metrics.clone());
                    let engine = Arc::new(Engine::new(store, registry, clock));
                    let result = on_cluster(&engine, &bus, &metrics, &amqp_url, &arguments).await;
                    scrapes.abort();
                    result
                };
                drop(bus);
                if result.is_ok() {
                    let workflows = arguments.workflows + WARM_UP;
                    report_transactions(&stats_pool, database.name(), raw_commits, workflows)
                        .await?;
                }
                result
            }
            .await;
            rabbitmqctl(&["delete_vhost", &vhost]).ok();
            database.drop().await?;
            outcome?;
        }
    }
    Ok(())
}

/// Scrapes as often as the deploy kit's Prometheus does (`deploy/prometheus`).
const SCRAPE_INTERVAL: Duration = Duration::from_secs(5);

async fn scrape_every(telemetry: Telemetry, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        std::hint::black_box(telemetry.render().await);
    }
}

/// The cluster run: the node's loops here, the worker in its own process.
async fn on_cluster<S: EventStore + OutboxQueue + TimerQueue + 'static>(
    engine: &Arc<Engine<S>>,
    bus: &RabbitBus,
    metrics: &Arc<Metrics>,
    amqp_url: &str,
    arguments: &BenchArguments,
) -> anyhow::Result<()> {
    spawn_loops(engine, bus, &[], false, metrics)?;
    let mut worker = Command::new(std::env::current_exe()?)
        .args(["worker", "--echo", "bench"])
        .env("AMQP_URL", amqp_url)
        .stderr(Stdio::null())
        .spawn()?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "mode: cluster (PostgreSQL + RabbitMQ, worker in process {})",
        worker.id()
    );
    let result = measure(engine, arguments, &[worker.id()]).await;
    stop(&mut worker);
    result
}

async fn measure<S: EventStore + OutboxQueue + TimerQueue + 'static>(
    engine: &Arc<Engine<S>>,
    arguments: &BenchArguments,
    helpers: &[u32],
) -> anyhow::Result<()> {
    let input = json!({ "fail": arguments.failing });
    let expected = if arguments.failing {
        InstanceStatus::Compensated
    } else {
        InstanceStatus::Completed
    };
    // Warm up, and measure latency one workflow at a time.
    let mut latencies = Vec::new();
    for _ in 0..WARM_UP {
        let started = Instant::now();
        run_one(engine, &input, expected).await?;
        latencies.push(started.elapsed());
    }
    report_latency("1 in flight", &mut latencies);

    let cpu_before = cpu_seconds(helpers);
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(arguments.in_flight));
    let mut tasks = Vec::with_capacity(arguments.workflows);
    for _ in 0..arguments.workflows {
        let permit = permits.clone().acquire_owned().await?;
        let engine = engine.clone();
        let input = input.clone();
        tasks.push(tokio::spawn(async move {
            let begun = Instant::now();
            let outcome = run_one(&engine, &input, expected).await;
            drop(permit);
            outcome.map(|_| begun.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for task in tasks {
        latencies.push(task.await??);
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds(helpers).since(&cpu_before);
    let rate = arguments.workflows as f64 / elapsed.as_secs_f64();
    println!(
        "{} workflows ({}), {} in flight: {:.0} workflows/s ({:.0} steps/s) in {:.2}s",
        arguments.workflows,
        if arguments.failing {
            "failing: confirm fails, 3 compensations"
        } else {
            "success path"
        },
        arguments.in_flight,
        rate,
        rate * 5.0,
        elapsed.as_secs_f64()
    );
    report_latency(
        &format!("{} in flight", arguments.in_flight),
        &mut latencies,
    );
    let per_workflow = |seconds: f64| seconds * 1000.0 / arguments.workflows as f64;
    println!(
        "CPU per workflow: {:.2} ms in all (engine+load {:.2}, worker {:.2}, postgres {:.2}, rabbitmq {:.2})",
        per_workflow(cpu.total()),
        per_workflow(cpu.engine),
        per_workflow(cpu.helpers),
        per_workflow(cpu.postgres),
        per_workflow(cpu.rabbitmq)
    );
    println!("engine resident memory: {} MB", resident_megabytes());
    Ok(())
}

/// Workflows run one at a time before the measured run (the 1-in-flight latency).
const WARM_UP: usize = 200;

/// PostgreSQL's transaction counts for the bench database, per workflow
/// (warm-up included, the raw commit-rate probe's `raw_commits` left out):
/// commits show how well appends are batched, rollbacks how often appends
/// conflicted.
async fn report_transactions(
    pool: &sqlx::PgPool,
    database: &str,
    raw_commits: u32,
    workflows: usize,
) -> anyhow::Result<()> {
    // The statistics collector publishes with a delay of up to a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (commits, rollbacks) = postgres_bench::transaction_counts(pool, database).await?;
    println!(
        "PostgreSQL transactions per workflow: {:.2} commits, {:.3} rollbacks",
        (commits - i64::from(raw_commits)) as f64 / workflows as f64,
        rollbacks as f64 / workflows as f64
    );
    Ok(())
}

async fn run_one<S: EventStore + 'static>(
    engine: &Engine<S>,
    input: &serde_json::Value,
    expected: InstanceStatus,
) -> anyhow::Result<()> {
    let mut finished = engine.subscribe_finished();
    let id = engine
        .start("bench-order", None, input.clone(), &Origin::actor("bench"))
        .await?;
    let status = wait_final(engine, id, &mut finished).await?;
    if status != expected {
        bail!("workflow {id} ended {status}, expected {expected}");
    }
    Ok(())
}

/// Waits for the instance's final status, as the engine announces it; reads
/// the state only if announcements were missed (a lagging receiver).
async fn wait_final<S: EventStore>(
    engine: &Engine<S>,
    id: InstanceId,
    finished: &mut tokio::sync::broadcast::Receiver<(InstanceId, InstanceStatus)>,
) -> anyhow::Result<InstanceStatus> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout(Duration::from_millis(500), finished.recv()).await {
            Ok(Ok((done, status))) if done == id => return Ok(status),
            Ok(Ok(_)) => continue,
            _ => {}
        }
        let status = engine.state(id).await?.status;
        if status.is_final() {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("workflow {id} did not finish within a minute");
        }
    }
}

fn report_latency(label: &str, latencies: &mut [Duration]) {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "latency start→final, {label}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        at(1.0).as_secs_f64() * 1000.0
    );
}

#[derive(Debug, Default)]
struct Cpu {
    engine: f64,
    helpers: f64,
    postgres: f64,
    rabbitmq: f64,
}

impl Cpu {
    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            engine: self.engine - before.engine,
            helpers: self.helpers - before.helpers,
            postgres: self.postgres - before.postgres,
            rabbitmq: self.rabbitmq - before.rabbitmq,
        }
    }

    fn total(&self) -> f64 {
        self.engine + self.helpers + self.postgres + self.rabbitmq
    }
}

/// CPU seconds used so far by this process, the helper processes, and every
/// PostgreSQL and RabbitMQ (beam) process on the machine, from /proc.
fn cpu_seconds(helpers: &[u32]) -> Cpu {
    let mut cpu = Cpu {
        engine: process_cpu(std::process::id()).map_or(0.0, |(_, s)| s),
        ..Cpu::default()
    };
    for pid in helpers {
        cpu.helpers += process_cpu(*pid).map_or(0.0, |(_, s)| s);
    }
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.filter_map(Result::ok) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((name, seconds)) = process_cpu(pid) {
                if name == "postgres" {
                    cpu.postgres += seconds;
                } else if name.starts_with("beam") || name == "epmd" || name == "erl_child_setup" {
                    cpu.rabbitmq += seconds;
                }
            }
        }
    }
    cpu
}

/// `(command name, user+system CPU seconds)` of a process (100 ticks a second on Linux).
fn process_cpu(pid: u32) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_owned();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((name, ticks / 100.0))
}

fn resident_megabytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:").map(|rest| {
                    rest.trim()
                        .trim_end_matches(" kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
            })
        })
        .flatten()
        .map_or(0, |kb| kb / 1024)
}

fn replace_last_segment(url: &str, segment: &str) -> anyhow::Result<String> {
    let (base, _) = url
        .rsplit_once('/')
        .with_context(|| format!("{url} has no path"))?;
    Ok(format!("{base}/{segment}"))
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .context("running rabbitmqctl")?;
    if !output.status.success() {
        bail!(
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
