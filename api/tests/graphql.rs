//! GraphQL through the real router on a real PostgreSQL: queries over the
//! read models and the log, every mutation, the permission of each root
//! field, the limits, and subscriptions over a real WebSocket.

mod support;

#[path = "graphql/access.rs"]
mod access;
#[path = "graphql/limits.rs"]
mod limits;
#[path = "graphql/mutations.rs"]
mod mutations;
#[path = "graphql/queries.rs"]
mod queries;
#[path = "graphql/subscriptions.rs"]
mod subscriptions;

use std::collections::HashMap;
use std::sync::Arc;

use api::{ApiConfig, Authentication, Limits};
use application::auth::{ApiKeys, Role};
use application::clock::SystemClock;
use application::feed::FeedConfig;
use application::projection::Projector;
use infrastructure::store::{PgEventStore, PgReadModels};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::App;
pub(crate) use support::EXPENSE;

/// A node on its own port, its read models caught up on demand, and an API
/// key per role when it requires authentication.
pub(crate) struct Node {
    pub(crate) app: App,
    projector: Projector<PgEventStore, PgReadModels>,
    pub(crate) keys: HashMap<Role, String>,
    http: reqwest::Client,
}

impl Node {
    /// Anyone may do anything, as the anonymous admin.
    pub(crate) async fn open(pool: PgPool) -> Self {
        Self::with(pool, None).await
    }

    /// API keys required; these limits.
    pub(crate) async fn secured(pool: PgPool, limits: Limits) -> Self {
        Self::with(pool, Some(limits)).await
    }

    async fn with(pool: PgPool, secured: Option<Limits>) -> Self {
        let app = App::with(
            pool.clone(),
            FeedConfig::default(),
            true,
            |store| match secured {
                None => ApiConfig::default(),
                Some(limits) => ApiConfig {
                    authentication: Authentication::Required {
                        keys: Some(Arc::new(ApiKeys::new(store.clone()))),
                        jwt: None,
                    },
                    limits,
                    handout: None,
                    fleet: None,
                },
            },
        )
        .await;
        let mut keys = HashMap::new();
        if secured.is_some() {
            let issuer = ApiKeys::new(app.engine.store().clone());
            let clock = SystemClock::default();
            for role in Role::ALL {
                let issued = issuer.create(role, "test", &clock).await.unwrap();
                keys.insert(role, issued.key);
            }
        }
        let projector = Projector::new(app.engine.clone(), PgReadModels::new(pool));
        Self {
            app,
            projector,
            keys,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn key(&self, role: Role) -> Option<&str> {
        self.keys.get(&role).map(String::as_str)
    }

    /// Brings the read models up to the log.
    pub(crate) async fn catch_up(&self) {
        self.projector.catch_up().await.unwrap();
    }

    /// `POST /graphql` as the holder of `credential`.
    pub(crate) async fn post(
        &self,
        credential: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.app.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        request.send().await.unwrap()
    }

    /// A GraphQL response (HTTP 200) as the holder of `credential`.
    pub(crate) async fn run(
        &self,
        credential: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let response = self.post(credential, query, variables).await;
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/graphql-response+json"
        );
        response.json().await.unwrap()
    }

    /// Deploys a definition as the admin.
    pub(crate) async fn deploy(&self, source: &str) {
        let deploy = "mutation($source: String!) { deployDefinition(source: $source) { name } }";
        let key = self.key(Role::Admin);
        data(&self.run(key, deploy, json!({ "source": source })).await);
    }

    /// As the node's only caller (the anonymous admin of an open node).
    pub(crate) async fn ask(&self, query: &str, variables: Value) -> Value {
        self.run(None, query, variables).await
    }
}

/// The data of a response that has no errors.
pub(crate) fn data(response: &Value) -> &Value {
    assert!(response.get("errors").is_none(), "{response:#}");
    &response["data"]
}

/// The code of a response's one error.
pub(crate) fn code(response: &Value) -> &str {
    let errors = response["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{response:#}");
    errors[0]["extensions"]["code"].as_str().expect("a code")
}

#[test]
fn the_checked_in_sdl_is_current() {
    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schema.graphql");
    let current = api::graphql::sdl();
    if std::env::var_os("DISTORCH_BLESS").is_some() {
        std::fs::write(CHECKED_IN, &current).expect("write the SDL");
        return;
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == current,
        "docs/schema.graphql is stale: run `DISTORCH_BLESS=1 cargo test -p api --test graphql` (or `distorch graphql-schema > docs/schema.graphql`)"
    );
}
