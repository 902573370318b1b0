//! `distorch projections rebuild`: empties the read models and projects the
//! whole log again. Safe beside running nodes: the reset waits for the
//! projection lock, and whichever node holds it next carries on from 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use application::Engine;
use application::catalog;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::ports::{DefinitionStore, EventStore, ProjectionWriter};
use application::projection::Projector;
use infrastructure::store::{PgEventStore, PgReadModels};

use super::stores::{self, Stores};

#[derive(Debug, clap::Args)]
pub struct ProjectionsArguments {
    #[command(subcommand)]
    command: ProjectionsCommand,
    /// PostgreSQL; without it, the embedded SQLite file.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// The SQLite file of the embedded mode.
    #[arg(long, default_value = "distorch.db", global = true)]
    data: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum ProjectionsCommand {
    /// Empty the read models and project the whole event log again.
    Rebuild,
}

pub fn run(arguments: ProjectionsArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ProjectionsCommand::Rebuild = arguments.command;
    let projected = runtime.block_on(async {
        let url = arguments.database_url.as_deref();
        match stores::open(url, &arguments.data, 10).await? {
            Stores::Postgres(pool) => {
                rebuild(PgEventStore::new(pool.clone()), PgReadModels::new(pool)).await
            }
            Stores::Sqlite(store) => {
                let read_models = store.read_models();
                rebuild(store, read_models).await
            }
        }
    })?;
    eprintln!("rebuilt the read models from {projected} events");
    Ok(ExitCode::SUCCESS)
}

async fn rebuild<S, R>(store: S, read_models: R) -> anyhow::Result<usize>
where
    S: EventStore + 'static,
    R: ProjectionWriter + DefinitionStore + Clone + 'static,
{
    let registry = Arc::new(DefinitionRegistry::default());
    catalog::load_stored(&registry, &read_models).await?;
    let engine = Arc::new(Engine::new(
        store,
        registry,
        Arc::new(SystemClock::default()),
    ));
    read_models.reset().await?;
    Ok(Projector::new(engine, read_models).catch_up().await?)
}
