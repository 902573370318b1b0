//! Wiring an engine node: the background loops, workers and the HTTP server,
//! whatever the store and bus underneath.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use application::Engine;
use application::definitions::DefinitionRegistry;
use application::loops::{OutboxRelay, ResultConsumer, TimerPoller, Worker};
use application::metrics::{MeteredExecutor, Metrics, Telemetry};
use application::ports::{Bus, EventStore, OutboxQueue, TimerQueue};
use domain::definition::{HTTP_QUEUE, parse_workflow};
use infrastructure::exec::ExecExecutor;
use infrastructure::http::HttpExecutor;

/// `QUEUE=COMMAND` pairs from `--exec`.
pub fn parse_workers(specs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    specs
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((queue, command)) if !queue.is_empty() && !command.is_empty() => {
                Ok((queue.to_owned(), command.to_owned()))
            }
            _ => bail!("--exec {spec}: expected QUEUE=COMMAND"),
        })
        .collect()
}

/// Registers every `*.yaml`/`*.yml`/`*.json` workflow in `folder`; any
/// invalid file stops the start with its problems.
pub fn load_definitions(folder: &Path, registry: &DefinitionRegistry) -> anyhow::Result<usize> {
    if !folder.is_dir() {
        return Ok(0);
    }
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let mut problems = String::new();
    for path in &files {
        let name = path.display().to_string();
        match super::read_source(path)
            .map_err(|message| format!("{name}:1:1: {message}\n"))
            .and_then(|source| parse_workflow(&source).map_err(|found| found.render(&name)))
        {
            Ok(definition) => {
                registry
                    .register(definition)
                    .with_context(|| format!("deploying {name}"))?;
            }
            Err(text) => problems.push_str(&text),
        }
    }
    if !problems.is_empty() {
        bail!("invalid workflow definitions:\n{problems}");
    }
    Ok(files.len())
}

/// Spawns the relay, the timer poller, the results consumer and the workers.
pub fn spawn_loops<S, B>(
    engine: &Arc<Engine<S>>,
    bus: &B,
    workers: &[(String, String)],
    http_worker: bool,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<()>
where
    S: EventStore + OutboxQueue + TimerQueue + 'static,
    B: Bus,
{
    let relay = OutboxRelay::new(engine.clone(), bus.clone());
    tokio::spawn(async move { relay.run().await });
    let poller = TimerPoller::new(engine.clone());
    tokio::spawn(async move { poller.run().await });
    let consumer = Arc::new(ResultConsumer::new(engine.clone(), bus.clone()));
    tokio::spawn(async move {
        if let Err(error) = consumer.run().await {
            eprintln!("error: the results consumer stopped: {error}");
        }
    });
    spawn_workers(bus, workers, http_worker, metrics)
}

pub fn spawn_workers<B: Bus>(
    bus: &B,
    workers: &[(String, String)],
    http_worker: bool,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<()> {
    let served: HashSet<&str> = workers.iter().map(|(queue, _)| queue.as_str()).collect();
    for (queue, command) in workers {
        let worker = Arc::new(Worker::new(
            bus.clone(),
            queue.clone(),
            "exec",
            MeteredExecutor::new(ExecExecutor::new(command.clone()), metrics.clone()),
        ));
        tokio::spawn(async move { worker.run().await });
    }
    if http_worker && !served.contains(HTTP_QUEUE) {
        let worker = Arc::new(Worker::new(
            bus.clone(),
            HTTP_QUEUE,
            "http",
            MeteredExecutor::new(HttpExecutor::new()?, metrics.clone()),
        ));
        tokio::spawn(async move { worker.run().await });
    }
    Ok(())
}

/// Serves the API, `/metrics` and the health probes until the process is
/// stopped.
pub async fn serve_http<S: EventStore + 'static>(
    engine: Arc<Engine<S>>,
    telemetry: Telemetry,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    let metrics = telemetry.metrics().clone();
    let router = api::router(engine).merge(api::operations_router(Arc::new(telemetry)));
    serve_router(api::track_http(router, metrics), addr).await
}

/// A worker's `/metrics` and `/health/live`, on `--metrics-addr`.
pub async fn serve_worker_metrics(metrics: Arc<Metrics>, addr: SocketAddr) -> anyhow::Result<()> {
    let telemetry = Telemetry::new(
        metrics,
        Arc::new(DefinitionRegistry::default()),
        Arc::new(application::clock::SystemClock::default()),
    );
    let router = api::operations_router(Arc::new(telemetry)).route(
        "/health/live",
        axum::routing::get(|| async { axum::Json(serde_json::json!({ "status": "up" })) }),
    );
    serve_router(router, addr).await
}

async fn serve_router(router: axum::Router, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!("listening on http://{local}");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Answers every task at once, the benchmark's worker: completes it, or
/// fails it for good when its input says `fail: true`.
#[derive(Debug)]
pub struct EchoExecutor;

impl application::loops::Executor for EchoExecutor {
    async fn execute(
        &self,
        task: &application::messages::TaskMessage,
    ) -> application::messages::TaskOutcome {
        use application::messages::TaskOutcome;
        if task.input.get("fail") == Some(&serde_json::Value::Bool(true)) {
            TaskOutcome::Failed {
                error: domain::instance::StepError::permanent("asked to fail"),
            }
        } else {
            TaskOutcome::Completed {
                output: serde_json::json!({}),
            }
        }
    }
}

pub fn spawn_echo_worker<B: Bus>(bus: &B, queue: &str, metrics: &Arc<Metrics>) {
    let worker = Arc::new(Worker::new(
        bus.clone(),
        queue.to_owned(),
        "echo",
        MeteredExecutor::new(EchoExecutor, metrics.clone()),
    ));
    tokio::spawn(async move { worker.run().await });
}
