//! `distorch migrate`: brings the database to the current schema (the node
//! also does this at start). Migrations only ever add: an older database is
//! upgraded, never rewritten.

use std::path::PathBuf;
use std::process::ExitCode;

use super::stores::{self, Stores};

#[derive(Debug, clap::Args)]
pub struct MigrateArguments {
    /// PostgreSQL; without it, the embedded SQLite file is migrated.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// The SQLite file of the embedded mode.
    #[arg(long, default_value = "distorch.db")]
    data: PathBuf,
}

pub fn run(arguments: MigrateArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let url = arguments.database_url.as_deref();
        match stores::open(url, &arguments.data, 10).await? {
            Stores::Postgres(_) => eprintln!("PostgreSQL is at the current schema"),
            Stores::Sqlite(_) => eprintln!("{} is at the current schema", arguments.data.display()),
        }
        Ok(ExitCode::SUCCESS)
    })
}
