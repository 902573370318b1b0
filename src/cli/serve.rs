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
use application::feed::FeedSignal;
use infrastructure::bus::{RabbitBus, RabbitConfig};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::{
    POSTGRES_MIGRATIONS, PgEventStore, SqliteEventStore, forward_notifications,
};

use super::node::{load_definitions, parse_workers, serve_http, spawn_feed, spawn_loops};

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
    let deployed = load_definitions(&arguments.workflows, &registry)?;
    let workers = parse_workers(&arguments.exec)?;
    let http_worker = !arguments.no_http_worker;
    let clock = Arc::new(SystemClock::default());
    eprintln!(
        "deployed {deployed} workflow definitions from {}",
        arguments.workflows.display()
    );
    eprintln!(
        "no authentication: the API is open to anyone who can reach {}",
        arguments.addr
    );
    match &arguments.database_url {
        None => {
            let store = SqliteEventStore::open(&arguments.data).await?;
            eprintln!(
                "embedded mode: SQLite file {}, in-process queue",
                arguments.data.display()
            );
            let engine = Arc::new(Engine::new(store, registry, clock));
            let feed = spawn_feed(&engine, Arc::new(FeedSignal::default()), false);
            let bus = LocalBus::default();
            spawn_loops(&engine, &bus, &workers, http_worker)?;
            serve_http(engine, feed, arguments.addr).await
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
            let engine = Arc::new(Engine::new(
                PgEventStore::new(pool.clone()),
                registry,
                clock,
            ));
            let signal = Arc::new(FeedSignal::default());
            tokio::spawn(forward_notifications(
                pool,
                engine.outbox_written.clone(),
                engine.timers_written.clone(),
                signal.clone(),
            ));
            let feed = spawn_feed(&engine, signal, true);
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
                    spawn_loops(&engine, &bus, &workers, http_worker)?;
                    serve_http(engine, feed, arguments.addr).await
                }
                None => {
                    eprintln!(
                        "PostgreSQL mode with an in-process queue (set AMQP_URL for RabbitMQ)"
                    );
                    let bus = LocalBus::default();
                    spawn_loops(&engine, &bus, &workers, http_worker)?;
                    serve_http(engine, feed, arguments.addr).await
                }
            }
        }
    }
}
