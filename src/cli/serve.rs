//! `distorch serve`: an engine node. With no `DATABASE_URL` it runs embedded
//! (a SQLite file holding the log and the queues, in-process workers); with
//! `DATABASE_URL` and `AMQP_URL` it runs on PostgreSQL and RabbitMQ beside
//! other nodes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use anyhow::{Context, bail};
use api::{ApiConfig, Authentication, Handout, JwtVerifier, Limits};
use application::Engine;
use application::auth::ApiKeys;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::feed::FeedSignal;
use application::metrics::{MeteredStore, Metrics, Telemetry};
use application::ports::ApiKeyStore;
use application::projection::{ProjectionProbe, ReadModelLag};
use infrastructure::bus::{RabbitBus, RabbitConfig};
use infrastructure::local_bus::LocalBus;
use infrastructure::store::{
    PgEventStore, PgReadModels, PgStoreProbe, forward_notifications, wake_on_appends,
};

use super::logging::{self, LogArguments};
use super::node::{
    deploy_definitions, parse_workers, read_definitions, serve_http, spawn_feed, spawn_loops,
    spawn_projector,
};
use super::stores::{self, Stores};

/// A projection-lag probe and the lag readiness tolerates.
type ProjectionLimit = (Arc<dyn ProjectionProbe>, Duration);

#[derive(Debug, clap::Args)]
pub struct ServeArguments {
    /// Where the API listens.
    #[arg(long, env = "DISTORCH_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// PostgreSQL; without it, the node runs embedded on a SQLite file.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// RabbitMQ; without it, tasks go through the node's own queue (in the
    /// SQLite file when embedded, in memory beside PostgreSQL).
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
    /// Accept JWT bearer tokens signed with this HS256 secret.
    #[arg(long, env = "DISTORCH_JWT_HS256_SECRET", hide_env_values = true)]
    jwt_hs256_secret: Option<String>,
    /// Accept JWT bearer tokens signed by the RS256 key whose public half
    /// is in this PEM file.
    #[arg(
        long,
        env = "DISTORCH_JWT_RS256_PUBLIC_KEY",
        conflicts_with = "jwt_hs256_secret"
    )]
    jwt_rs256_public_key: Option<PathBuf>,
    /// Accept only JWTs whose `iss` claim is this.
    #[arg(long, env = "DISTORCH_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Accept only JWTs whose `aud` claim is (or holds) this.
    #[arg(long, env = "DISTORCH_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// Requests per second each caller may sustain.
    #[arg(long, env = "DISTORCH_RATE_LIMIT", default_value_t = api::DEFAULT_REQUESTS_PER_SECOND)]
    rate_limit: f64,
    /// Requests a caller may make at once after being idle.
    #[arg(long, env = "DISTORCH_RATE_BURST", default_value_t = api::DEFAULT_BURST)]
    rate_burst: u32,
    /// The largest request body, in bytes.
    #[arg(long, env = "DISTORCH_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds a request may take to answer (streams excepted).
    #[arg(long, env = "DISTORCH_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// Seconds the read models may trail the event log before
    /// `/health/ready` fails its `projections` check.
    #[arg(long, env = "DISTORCH_MAX_PROJECTION_LAG", default_value_t = 30)]
    max_projection_lag: u64,
    #[command(flatten)]
    log: LogArguments,
}

impl ServeArguments {
    fn jwt(&self) -> anyhow::Result<Option<JwtVerifier>> {
        let Some(mut verifier) = self.jwt_key()? else {
            if self.jwt_issuer.is_some() || self.jwt_audience.is_some() {
                bail!(
                    "--jwt-issuer and --jwt-audience need a JWT key \
                     (--jwt-hs256-secret or --jwt-rs256-public-key)"
                );
            }
            return Ok(None);
        };
        if let Some(issuer) = &self.jwt_issuer {
            verifier = verifier.with_issuer(issuer);
        }
        if let Some(audience) = &self.jwt_audience {
            verifier = verifier.with_audience(audience);
        }
        Ok(Some(verifier))
    }

    fn jwt_key(&self) -> anyhow::Result<Option<JwtVerifier>> {
        if let Some(secret) = &self.jwt_hs256_secret {
            return Ok(Some(JwtVerifier::hs256(secret.as_bytes())));
        }
        let Some(path) = &self.jwt_rs256_public_key else {
            return Ok(None);
        };
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        JwtVerifier::rs256(&pem)
            .map(Some)
            .map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()))
    }

    /// The projection-lag probe of the read models.
    fn projection_lag<R>(&self, read_models: &R) -> ProjectionLimit
    where
        R: application::ports::ProjectionWriter + Clone + 'static,
    {
        let probe = ReadModelLag::new(read_models.clone());
        (
            Arc::new(probe),
            Duration::from_secs(self.max_projection_lag),
        )
    }

    fn limits(&self) -> Limits {
        Limits {
            requests_per_second: self.rate_limit,
            burst: self.rate_burst,
            body_bytes: self.max_body_bytes,
            request_timeout: Duration::from_secs(self.request_timeout),
        }
    }

    /// Authentication is on when a JWT key is configured or the store holds
    /// an active API key. Without it the node runs open on loopback only,
    /// unless `--insecure` says a proxy in front authenticates.
    async fn api_config<K>(&self, keys: K) -> anyhow::Result<ApiConfig>
    where
        K: ApiKeyStore + 'static,
    {
        let jwt = self.jwt()?;
        let keys = ApiKeys::new(keys);
        let active = keys
            .list()
            .await?
            .iter()
            .filter(|key| key.revoked_at.is_none())
            .count();
        let authentication = if jwt.is_some() || active > 0 {
            tracing::info!(
                api_keys = active,
                jwt = jwt.is_some(),
                "authentication: {active} active API keys{}",
                if jwt.is_some() {
                    ", JWT bearer tokens"
                } else {
                    ""
                }
            );
            Authentication::Required {
                keys: Some(Arc::new(keys)),
                jwt: jwt.map(Arc::new),
            }
        } else if self.addr.ip().is_loopback() || self.insecure {
            tracing::warn!(
                addr = %self.addr,
                "no authentication (no API key, no JWT key): the API is open to anyone who can reach {}",
                self.addr
            );
            Authentication::Open
        } else {
            bail!(
                "refusing to serve on {} without authentication; create a key with \
                 `distorch apikey create --role admin`, configure a JWT key, listen on \
                 127.0.0.1, or pass --insecure if a proxy in front authenticates",
                self.addr
            );
        };
        Ok(ApiConfig {
            authentication,
            limits: self.limits(),
            handout: None,
        })
    }
}

pub fn run(arguments: ServeArguments) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let _tracing = {
        let _runtime = runtime.enter();
        logging::init(arguments.log, "distorch-engine")?
    };
    runtime.block_on(serve(arguments))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(arguments: ServeArguments) -> anyhow::Result<()> {
    let registry = Arc::new(DefinitionRegistry::default());
    let sources = read_definitions(&arguments.workflows)?;
    let workers = parse_workers(&arguments.exec)?;
    let http_worker = !arguments.no_http_worker;
    let clock = Arc::new(SystemClock::default());
    let metrics = Arc::new(Metrics::new());
    let telemetry = Telemetry::new(metrics.clone(), registry.clone(), clock.clone());
    match stores::open(arguments.database_url.as_deref(), &arguments.data, 16).await? {
        Stores::Sqlite(store) => {
            let read_models = store.read_models();
            announce(
                deploy_definitions(&sources, &registry, &read_models).await?,
                &arguments,
            );
            let mut config = arguments.api_config(store.clone()).await?;
            tracing::info!(
                data = %arguments.data.display(),
                "embedded mode: SQLite file {}, its queues in the same file",
                arguments.data.display()
            );
            let bus = LocalBus::durable(&store).await?;
            let store = MeteredStore::new(store, metrics.clone());
            let engine = Arc::new(Engine::new(store, registry, clock));
            let (lag, max_lag) = arguments.projection_lag(&read_models);
            let telemetry = telemetry.with_projections(lag, max_lag);
            let feed = spawn_feed(&engine, Arc::new(FeedSignal::default()), false);
            config.handout = Some(Handout(Arc::new(bus.clone())));
            spawn_loops(&engine, &bus, &workers, http_worker, &metrics)?;
            spawn_projector(&engine, &read_models);
            serve_http(engine, read_models, feed, config, telemetry, arguments.addr).await
        }
        Stores::Postgres(pool) => {
            let read_models = PgReadModels::new(pool.clone());
            announce(
                deploy_definitions(&sources, &registry, &read_models).await?,
                &arguments,
            );
            let mut api_config = arguments
                .api_config(PgEventStore::new(pool.clone()))
                .await?;
            let telemetry = telemetry.with_store(Arc::new(PgStoreProbe::new(pool.clone())));
            let store = MeteredStore::new(PgEventStore::new(pool.clone()), metrics.clone());
            let engine = Arc::new(Engine::new(store, registry, clock));
            let (lag, max_lag) = arguments.projection_lag(&read_models);
            let telemetry = telemetry.with_projections(lag, max_lag);
            let signal = Arc::new(FeedSignal::default());
            tokio::spawn(forward_notifications(
                pool.clone(),
                engine.timers_written.clone(),
                signal.clone(),
            ));
            tokio::spawn(wake_on_appends(
                pool,
                spawn_projector(&engine, &read_models),
            ));
            let feed = spawn_feed(&engine, signal, true);
            let telemetry = match &arguments.amqp_url {
                Some(amqp) => {
                    let config = RabbitConfig {
                        url: amqp.clone(),
                        connection_name: format!("distorch-node-{}", std::process::id()),
                    };
                    let bus = RabbitBus::connect(config)
                        .await
                        .context("connecting to RabbitMQ (AMQP_URL)")?;
                    tracing::info!("PostgreSQL + RabbitMQ mode");
                    api_config.handout = Some(Handout(Arc::new(bus.clone())));
                    spawn_loops(&engine, &bus, &workers, http_worker, &metrics)?;
                    telemetry.with_broker(Arc::new(bus))
                }
                None => {
                    tracing::info!(
                        "PostgreSQL mode with an in-memory queue: tasks in flight are lost with the process (set AMQP_URL for RabbitMQ)"
                    );
                    let bus = LocalBus::default();
                    api_config.handout = Some(Handout(Arc::new(bus.clone())));
                    spawn_loops(&engine, &bus, &workers, http_worker, &metrics)?;
                    telemetry
                }
            };
            let addr = arguments.addr;
            serve_http(engine, read_models, feed, api_config, telemetry, addr).await
        }
    }
}

fn announce(known: usize, arguments: &ServeArguments) {
    tracing::info!(
        definitions = known,
        "{known} workflow definitions known (deployed from {} and stored before)",
        arguments.workflows.display()
    );
}
