//! `distorch worker`: a worker process on RabbitMQ, running a command per
//! task (`--exec`) or the built-in HTTP executor (`--http`). It announces
//! itself to the engine nodes, and on a drain (asked by an operator, or
//! SIGINT/SIGTERM) finishes its running tasks, says goodbye and exits.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use application::metrics::Metrics;
use infrastructure::bus::{RabbitBus, RabbitConfig};

use super::logging::{self, LogArguments};
use application::clock::SystemClock;
use application::fleet::PresenceKind;

use super::fleet::{Crew, WORKER_PREFETCH, host, identity, spawn_announcer};
use super::node::{serve_worker_metrics, spawn_echo_worker, spawn_workers};

#[derive(Debug, clap::Args)]
pub struct WorkerArguments {
    /// RabbitMQ.
    #[arg(long, env = "AMQP_URL")]
    amqp_url: String,
    /// The queue `--exec` serves.
    #[arg(long, requires = "exec")]
    queue: Option<String>,
    /// The command run once per task (`sh -c`; input JSON on stdin, output JSON on stdout;
    /// exit 2 fails the task for good, other non-zero exits are retried).
    #[arg(long, requires = "queue")]
    exec: Option<String>,
    /// Run the built-in HTTP executor on the `http` queue.
    #[arg(long)]
    http: bool,
    /// Answer every task of this queue at once with `{}` (for benchmarks).
    #[arg(long, value_name = "QUEUE")]
    echo: Option<String>,
    /// This worker's name at `/api/v1/workers` (default
    /// `distorch-worker-<pid>@<host>`).
    #[arg(long)]
    name: Option<String>,
    /// Serve this worker's task metrics at `http://ADDR/metrics`.
    #[arg(long, env = "DISTORCH_METRICS_ADDR", value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    #[command(flatten)]
    log: LogArguments,
}

pub fn run(arguments: WorkerArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _tracing = {
        let _runtime = runtime.enter();
        logging::init(arguments.log, "distorch-worker")?
    };
    runtime.block_on(work(arguments))?;
    Ok(ExitCode::SUCCESS)
}

async fn work(arguments: WorkerArguments) -> anyhow::Result<()> {
    let workers: Vec<(String, String)> = match (arguments.queue, arguments.exec) {
        (Some(queue), Some(command)) => vec![(queue, command)],
        _ => Vec::new(),
    };
    if workers.is_empty() && !arguments.http && arguments.echo.is_none() {
        bail!("give a queue and a command (--queue NAME --exec COMMAND), --http, or --echo QUEUE");
    }
    let config = RabbitConfig {
        url: arguments.amqp_url,
        connection_name: format!("distorch-worker-{}", std::process::id()),
    };
    let bus = RabbitBus::connect(config)
        .await
        .context("connecting to RabbitMQ (AMQP_URL)")?;
    let metrics = Arc::new(Metrics::new());
    let crew = Crew::default();
    let mut queues = spawn_workers(&bus, &workers, arguments.http, &metrics, &crew)?;
    if let Some(queue) = &arguments.echo {
        spawn_echo_worker(&bus, queue, &metrics, &crew);
        tracing::info!(queue = %queue, "answering queue `{queue}` at once");
        queues.push(queue.clone());
    }
    for (queue, command) in &workers {
        tracing::info!(queue = %queue, "working on queue `{queue}` with `{command}`");
    }
    if arguments.http {
        tracing::info!(
            queue = "http",
            "working on queue `http` with the HTTP executor"
        );
    }
    let name = arguments
        .name
        .unwrap_or_else(|| format!("distorch-worker-{}@{}", std::process::id(), host()));
    let capacity = u32::try_from(queues.len() * usize::from(WORKER_PREFETCH)).unwrap_or(u32::MAX);
    let identity = identity(name, queues, capacity, &SystemClock::default());
    let announcer = spawn_announcer(Arc::new(bus.clone()), identity, &crew);
    if let Some(addr) = arguments.metrics_addr {
        tokio::spawn(serve_worker_metrics(metrics, addr));
    }
    tokio::select! {
        () = crew.drain.wait() => {}
        () = stop_requested() => {
            tracing::info!("stopping: finishing the running tasks, taking no new one");
            crew.drain.begin();
        }
    }
    tokio::select! {
        () = crew.tally.until_idle() => tracing::info!("drained: no task running"),
        () = stop_requested() => tracing::warn!("stopped again: the running tasks go back to their queues"),
    }
    if let Err(error) = announcer.announce(PresenceKind::Goodbye).await {
        tracing::warn!(error = %error.report(), "saying goodbye failed");
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
