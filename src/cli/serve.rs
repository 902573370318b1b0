//! `distorch serve`: an engine node. With no `DATABASE_URL` it runs embedded
//! (a SQLite file, the in-process queue, in-process workers); with
//! `DATABASE_URL` and `AMQP_URL` it runs on PostgreSQL and RabbitMQ beside
//! other nodes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use application::Engine;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::metrics::{MeteredStore, Metrics, Telemetry};
use infrastructure::bus::{RabbitBus, RabbitConfig};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::{
    POSTGRES_MIGRATIONS, PgEventStore, PgReadModels, PgStoreProbe, SqliteEventStore,
    SqliteReadModels, forward_notifications, wake_on_appends,
};

use super::node::{
    deploy_definitions, parse_workers, read_definitions, serve_http, spawn_loops, spawn_projector,
};

#[derive(Debug, clap::Args)]
pub struct ServeArguments {
    /// Where the API listens.
    #[arg(long, env = "DISTORCH_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// PostgreSQL; without it, the node runs embedded on a SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// RabbitMQ; without it, tasks go through an in-process queue.
    #[arg(long, env = "AMQP_URL")]
    amqp_url: Option<String>,
    /// The SQLite file of the embedded mode.
    #[arg(long, default_value = "distorch.db")]
    data: PathBuf,
    /// Workflow definitions to deploy at start.
    #[arg(long, default_value = "workflows")]
    workflows: PathBuf,
    /// An in-process worker: QUEUE=COMMAND (run by `sh -c`).
    #[arg(long = "exec", value_name = "QUEUE=COMMAND")]
    exec: Vec<String>,
    /// Do not run the built-in HTTP executor in this node.
    #[arg(long)]
    no_http_worker: bool,
    /// Listen on a non-loopback address without authentication.
    #[arg(long)]
    insecure: bool,
}

pub fn run(arguments: ServeArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(arguments))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(arguments: ServeArguments) -> anyhow::Result<()> {
    if !arguments.addr.ip().is_loopback() && !arguments.insecure {
        bail!(
            "refusing to serve on {} without authentication (API keys come with the API work); \
             listen on 127.0.0.1, or pass --insecure if a proxy in front authenticates",
            arguments.addr
        );
    }
    let registry = Arc::new(DefinitionRegistry::default());
    let sources = read_definitions(&arguments.workflows)?;
    let workers = parse_workers(&arguments.exec)?;
    let http_worker = !arguments.no_http_worker;
    let clock = Arc::new(SystemClock::default());
    let metrics = Arc::new(Metrics::new());
    let telemetry = Telemetry::new(metrics.clone(), registry.clone(), clock.clone());
    eprintln!(
        "no authentication: the API is open to anyone who can reach {}",
        arguments.addr
    );
    match &arguments.database_url {
        None => {
            let store = SqliteEventStore::open(&arguments.data).await?;
            let read_models = SqliteReadModels::new(store.pool().clone());
            announce(
                deploy_definitions(&sources, &registry, &read_models).await?,
                &arguments,
            );
            eprintln!(
                "embedded mode: SQLite file {}, in-process queue",
                arguments.data.display()
            );
            let store = MeteredStore::new(store, metrics.clone());
            let engine = Arc::new(Engine::new(store, registry, clock));
            let bus = LocalBus::default();
            spawn_loops(&engine, &bus, &workers, http_worker, &metrics)?;
            spawn_projector(&engine, &read_models);
            serve_http(engine, read_models, telemetry, arguments.addr).await
        }
        Some(url) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await
                .context("connecting to PostgreSQL (DATABASE_URL)")?;
            POSTGRES_MIGRATIONS
                .run(&pool)
                .await
                .context("migrating PostgreSQL")?;
            let read_models = PgReadModels::new(pool.clone());
            announce(
                deploy_definitions(&sources, &registry, &read_models).await?,
                &arguments,
            );
            let telemetry = telemetry.with_store(Arc::new(PgStoreProbe::new(pool.clone())));
            let store = MeteredStore::new(PgEventStore::new(pool.clone()), metrics.clone());
            let engine = Arc::new(Engine::new(store, registry, clock));
            tokio::spawn(forward_notifications(
                pool.clone(),
                engine.timers_written.clone(),
            ));
            tokio::spawn(wake_on_appends(
                pool,
                spawn_projector(&engine, &read_models),
            ));
            match &arguments.amqp_url {
                Some(amqp) => {
                    let config = RabbitConfig {
                        url: amqp.clone(),
                        connection_name: format!("distorch-node-{}", std::process::id()),
                    };
                    let bus = RabbitBus::connect(config)
                        .await
                        .context("connecting to RabbitMQ (AMQP_URL)")?;
                    eprintln!("PostgreSQL + RabbitMQ mode");
                    spawn_loops(&engine, &bus, &workers, http_worker, &metrics)?;
                    let telemetry = telemetry.with_broker(Arc::new(bus));
                    serve_http(engine, read_models, telemetry, arguments.addr).await
                }
                None => {
                    eprintln!(
                        "PostgreSQL mode with an in-process queue (set AMQP_URL for RabbitMQ)"
                    );
                    let bus = LocalBus::default();
                    spawn_loops(&engine, &bus, &workers, http_worker, &metrics)?;
                    serve_http(engine, read_models, telemetry, arguments.addr).await
                }
            }
        }
    }
}

fn announce(known: usize, arguments: &ServeArguments) {
    eprintln!(
        "{known} workflow definitions known (deployed from {} and stored before)",
        arguments.workflows.display()
    );
}
