//! `distorch apikey create|list|revoke`: API keys in the node's database
//! (PostgreSQL with `DATABASE_URL`, else the embedded SQLite file). A new
//! key is printed once, on stdout; only its digest is stored.

use std::path::PathBuf;
use std::process::ExitCode;

use application::auth::ApiKeys;
use application::clock::SystemClock;
use application::ports::ApiKeyStore;
use infrastructure::store::PgEventStore;

use super::stores::{self, Stores};

#[derive(Debug, clap::Args)]
pub struct ApiKeyArguments {
    #[command(subcommand)]
    command: ApiKeyCommand,
    /// PostgreSQL; without it, the embedded SQLite file.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// The SQLite file of the embedded mode.
    #[arg(long, default_value = "distorch.db", global = true)]
    data: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
enum ApiKeyCommand {
    /// Create a key with its roles; prints it once.
    Create {
        /// A role the key holds; repeat it for several. One of them must be
        /// a permission role (viewer, operator, approver, admin); any other
        /// name is a business role that `role:NAME` approvers match
        /// (`--role approver --role manager`).
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// What the key is for (shown by `list`).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its id; it stops working at once.
    Revoke { id: String },
}

pub fn run(arguments: ApiKeyArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let command = arguments.command;
        match stores::open(arguments.database_url.as_deref(), &arguments.data, 10).await? {
            Stores::Postgres(pool) => execute(PgEventStore::new(pool), command).await,
            Stores::Sqlite(store) => execute(store, command).await,
        }
    })
}

async fn execute<K: ApiKeyStore>(store: K, command: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let keys = ApiKeys::new(store);
    let clock = SystemClock::default();
    match command {
        ApiKeyCommand::Create { roles, name } => {
            let issued = keys.create(&roles, &name, &clock).await?;
            eprintln!(
                "created API key {} ({}); it is shown this once:",
                issued.record.id,
                issued.record.roles.join(", ")
            );
            println!("{}", issued.key);
        }
        ApiKeyCommand::List => {
            println!(
                "{:<16}  {:<24}  {:<25}  {:<25}  name",
                "id", "roles", "created", "revoked"
            );
            for key in keys.list().await? {
                let revoked = key.revoked_at.map(|at| at.to_rfc3339()).unwrap_or_default();
                println!(
                    "{:<16}  {:<24}  {:<25}  {:<25}  {}",
                    key.id,
                    key.roles.join(","),
                    key.created_at.to_rfc3339(),
                    revoked,
                    key.name
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            keys.revoke(&id, &clock).await?;
            eprintln!("revoked API key {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
