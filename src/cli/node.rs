//! Wiring an engine node: the background loops, workers and the HTTP server,
//! whatever the store and bus underneath.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use application::Engine;
use application::catalog;
use application::definitions::DefinitionRegistry;
use application::feed::{EventFeed, FeedConfig, FeedSignal};
use application::loops::{OutboxRelay, ResultConsumer, TimerPoller, Worker};
use application::metrics::{MeteredExecutor, Metrics, Telemetry};
use application::ports::{
    Bus, DefinitionStore, EventStore, LogHead, OutboxQueue, ProjectionWriter, TimerQueue,
};
use application::projection::Projector;
use domain::definition::{HTTP_QUEUE, parse_workflow};
use infrastructure::exec::ExecExecutor;
use infrastructure::http::HttpExecutor;
use tokio::sync::Notify;

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

/// Reads and validates every `*.yaml`/`*.yml`/`*.json` workflow in
/// `folder`; any invalid file stops the start with its problems. Only the
/// top of `folder` is read: its subfolders (such as the `tests/` of
/// `distorch test`) are not.
pub fn read_definitions(folder: &Path) -> anyhow::Result<Vec<String>> {
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .with_context(|| format!("reading {}", folder.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    files.sort();
    let mut problems = String::new();
    let mut sources = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        match super::read_source(path)
            .map_err(|message| format!("{name}:1:1: {message}\n"))
            .and_then(|source| match parse_workflow(&source) {
                Ok(_) => Ok(source),
                Err(found) => Err(found.render(&name)),
            }) {
            Ok(source) => sources.push(source),
            Err(text) => problems.push_str(&text),
        }
    }
    if !problems.is_empty() {
        bail!("invalid workflow definitions:\n{problems}");
    }
    Ok(sources)
}

/// Deploys the folder's definitions (stored, so other nodes find them), then
/// registers every definition stored before; returns how many are known.
pub async fn deploy_definitions<R: DefinitionStore>(
    sources: &[String],
    registry: &DefinitionRegistry,
    store: &R,
) -> anyhow::Result<usize> {
    for source in sources {
        catalog::deploy(registry, store, source)
            .await
            .map_err(|error| match error {
                catalog::DeployError::Invalid(problems) => {
                    anyhow::anyhow!("{}", problems.render("definition"))
                }
                catalog::DeployError::Refused(error) => anyhow::anyhow!("deploying: {error}"),
            })?;
    }
    Ok(catalog::load_stored(registry, store).await?)
}

/// Spawns the read-model projector; `wake` forwards other nodes' appends.
pub fn spawn_projector<S, R>(engine: &Arc<Engine<S>>, read_models: &R) -> Arc<Notify>
where
    S: EventStore + 'static,
    R: ProjectionWriter + DefinitionStore + Clone + 'static,
{
    let projector = Projector::new(engine.clone(), read_models.clone());
    let wake = projector.wake();
    tokio::spawn(async move { projector.run().await });
    wake
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
            tracing::error!(error = %error.report(), "the results consumer stopped");
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
        metrics.prime_worker(queue);
        let worker = Arc::new(Worker::new(
            bus.clone(),
            queue.clone(),
            "exec",
            MeteredExecutor::new(ExecExecutor::new(command.clone()), metrics.clone()),
        ));
        tokio::spawn(async move { worker.run().await });
    }
    if http_worker && !served.contains(HTTP_QUEUE) {
        metrics.prime_worker(HTTP_QUEUE);
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

/// Starts the node's event feed: one tail of the log, woken by `signal`.
/// Without a database that signals appends (the embedded mode), the
/// engine's own change notices wake it.
pub fn spawn_feed<S>(
    engine: &Arc<Engine<S>>,
    signal: Arc<FeedSignal>,
    signalled_by_store: bool,
) -> Arc<EventFeed<S>>
where
    S: EventStore + LogHead + Clone + 'static,
{
    if !signalled_by_store {
        let mut changes = engine.subscribe();
        let signal = signal.clone();
        tokio::spawn(async move {
            while !matches!(
                changes.recv().await,
                Err(tokio::sync::broadcast::error::RecvError::Closed)
            ) {
                signal.committed(None);
            }
        });
    }
    let store = Arc::new(engine.store().clone());
    let feed = Arc::new(EventFeed::new(store, signal, FeedConfig::default()));
    let tail = feed.clone();
    tokio::spawn(async move { tail.run().await });
    feed
}

/// Serves the API, `/metrics` and the health probes until the process is
/// stopped.
pub async fn serve_http<S, R>(
    engine: Arc<Engine<S>>,
    read_models: R,
    feed: Arc<EventFeed<S>>,
    config: api::ApiConfig,
    telemetry: Telemetry,
    addr: SocketAddr,
) -> anyhow::Result<()>
where
    S: api::Store,
    R: api::ReadModels,
{
    let metrics = telemetry.metrics().clone();
    let router = api::router(engine, read_models, feed, config)
        .merge(api::operations_router(Arc::new(telemetry)));
    serve_router(api::track_http(router, metrics), addr).await
}

/// A worker's `/metrics` and `/health/live`, on `--metrics-addr`.
pub async fn serve_worker_metrics(metrics: Arc<Metrics>, addr: SocketAddr) -> anyhow::Result<()> {
    let telemetry = Telemetry::new(
        metrics,
        Arc::new(DefinitionRegistry::default()),
        Arc::new(application::clock::SystemClock::default()),
    );
    let router = api::operations_router(Arc::new(telemetry))
        .route("/health/live", axum::routing::get(api::live));
    serve_router(router, addr).await
}

async fn serve_router(router: axum::Router, addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "listening on http://{local}");
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
    metrics.prime_worker(queue);
    let worker = Arc::new(Worker::new(
        bus.clone(),
        queue.to_owned(),
        "echo",
        MeteredExecutor::new(EchoExecutor, metrics.clone()),
    ));
    tokio::spawn(async move { worker.run().await });
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn the_workflows_folder_gives_its_definitions_and_not_their_tests() {
        let folder = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"));
        assert!(
            folder.join("tests").is_dir(),
            "workflows/tests/ holds the examples' tests"
        );
        let sources = super::read_definitions(folder).expect("the examples are valid");
        let names: Vec<String> = sources
            .iter()
            .map(|source| domain::parse_workflow(source).expect("valid").name)
            .collect();
        assert_eq!(
            names,
            [
                "data-pipeline",
                "loan-approval",
                "order-fulfilment",
                "travel-booking"
            ]
        );
    }
}
