//! Authentication, the permission table and the limits, through the real
//! router on a real PostgreSQL. The route checks are driven by the table
//! itself, so a route added to it is covered here without a new line.

mod support;

use std::sync::Arc;

use api::auth::routes::ROUTES;
use api::{ApiConfig, Authentication, JwtVerifier, Limits};
use application::auth::{ApiKeys, Role};
use application::clock::SystemClock;
use application::feed::FeedConfig;
use application::ports::EventStore;
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::App;

const JWT_SECRET: &[u8] = b"a test secret of no importance";

fn secured(limits: Limits) -> impl FnOnce(&infrastructure::store::PgEventStore) -> ApiConfig {
    move |store| ApiConfig {
        authentication: Authentication::Required {
            keys: Some(Arc::new(ApiKeys::new(store.clone()))),
            jwt: Some(Arc::new(JwtVerifier::hs256(JWT_SECRET))),
        },
        limits,
        handout: None,
        fleet: None,
    }
}

/// A node that requires a credential (the default limits), and its keys.
async fn secured_app(pool: PgPool) -> (App, ApiKeys<infrastructure::store::PgEventStore>) {
    let app = App::with(
        pool,
        FeedConfig::default(),
        true,
        secured(Limits::default()),
    )
    .await;
    let keys = ApiKeys::new(app.engine.store().clone());
    (app, keys)
}

fn token(sub: &str, role: &str, expires_in: i64) -> String {
    let exp = chrono::Utc::now().timestamp() + expires_in;
    let claims = json!({ "sub": sub, "role": role, "exp": exp });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(JWT_SECRET),
    )
    .unwrap()
}

/// A route template with its parameters filled in (the docs page's
/// wildcard with one of its files).
fn path(template: &str, id: &str) -> String {
    let template = template.replace("{*rest}", "index.css");
    let mut rest = template.as_str();
    let mut path = String::new();
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}').unwrap();
        path.push_str(&rest[..open]);
        path.push_str(id);
        rest = &rest[close + 1..];
    }
    path + rest
}

async fn call(
    app: &App,
    method: &Method,
    path: &str,
    credential: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method.clone(), format!("{}{path}", app.url));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    if method == Method::POST {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

fn assert_problem(
    response: &reqwest::Response,
    status: StatusCode,
    challenge: Option<&str>,
    what: &str,
) {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "{what}"
    );
    if let Some(challenge) = challenge {
        let header = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            header.starts_with("Bearer realm=\"distorch\""),
            "{what}: {header}"
        );
        assert!(header.contains(challenge), "{what}: {header}");
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn every_route_refuses_no_credential_a_wrong_role_and_a_revoked_key(pool: PgPool) {
    let (app, keys) = secured_app(pool).await;
    let clock = SystemClock::default();
    let mut by_role = Vec::new();
    for role in Role::ALL {
        by_role.push((role, keys.create(role, "test", &clock).await.unwrap().key));
    }
    let revoked = keys.create(Role::Admin, "gone", &clock).await.unwrap();
    keys.revoke(&revoked.record.id, &clock).await.unwrap();
    let id = app.start("alpha").await.0.to_string();

    for (method, template, permission) in ROUTES {
        let path = path(template, &id);
        let what = format!("{method} {template}");
        let anonymous = call(&app, method, &path, None).await;
        if *permission == application::auth::Permission::Public {
            // Admitted: a WebSocket route then wants an upgrade (400).
            let status = anonymous.status();
            assert!(
                status != 401 && status != 403 && status != 429,
                "{what}: {status}"
            );
        } else {
            assert_problem(&anonymous, StatusCode::UNAUTHORIZED, Some("realm"), &what);
        }
        let gone = call(&app, method, &path, Some(&revoked.key)).await;
        assert_problem(&gone, StatusCode::UNAUTHORIZED, Some("realm"), &what);
        let forged = call(&app, method, &path, Some(&token("eve", "admin", -120))).await;
        assert_problem(
            &forged,
            StatusCode::UNAUTHORIZED,
            None,
            &format!("{what} expired"),
        );
        for (role, key) in &by_role {
            let what = format!("{what} as {role}");
            let response = call(&app, method, &path, Some(key)).await;
            if role.allows(*permission) {
                let status = response.status();
                assert!(
                    status != 401 && status != 403 && status != 429,
                    "{what}: {status}"
                );
            } else {
                assert_problem(
                    &response,
                    StatusCode::FORBIDDEN,
                    Some("insufficient_scope"),
                    &what,
                );
            }
        }
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn the_caller_is_the_actor_of_its_commands_in_the_log(pool: PgPool) {
    let (app, keys) = secured_app(pool).await;
    let operator = keys
        .create(Role::Operator, "ci", &SystemClock::default())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let start = |credential: String| {
        client
            .post(format!("{}/api/v1/workflows", app.url))
            .bearer_auth(credential)
            .json(&json!({ "definition": "beta" }))
            .send()
    };
    let expectations = [
        (
            operator.key.clone(),
            format!("apikey:{}", operator.record.id),
        ),
        (token("alice", "operator", 600), "jwt:alice".to_owned()),
    ];
    for (credential, actor) in expectations {
        let response = start(credential).await.unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        let id = uuid_of(&body["id"]);
        let events = app.engine.store().load(id, 0).await.unwrap();
        assert!(!events.is_empty());
        for event in events {
            assert_eq!(event.metadata.actor, actor);
        }
    }
    let viewer = start(token("bob", "viewer", 600)).await.unwrap();
    assert_eq!(viewer.status(), 403);
    let unknown_role = start(token("mallory", "root", 600)).await.unwrap();
    assert_eq!(unknown_role.status(), 401);
}

fn uuid_of(value: &Value) -> domain::InstanceId {
    domain::InstanceId(value.as_str().unwrap().parse().unwrap())
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_caller_over_its_rate_gets_429_with_retry_after_and_others_do_not(pool: PgPool) {
    // One token per thousand seconds: no refill can land during the test.
    let limits = Limits {
        requests_per_second: 0.001,
        burst: 2,
        ..Limits::default()
    };
    let app = App::with(pool, FeedConfig::default(), true, secured(limits)).await;
    let keys = ApiKeys::new(app.engine.store().clone());
    let clock = SystemClock::default();
    let hasty = keys
        .create(Role::Viewer, "hasty", &clock)
        .await
        .unwrap()
        .key;
    let calm = keys.create(Role::Viewer, "calm", &clock).await.unwrap().key;
    let id = app.start("beta").await.0.to_string();
    let path = format!("/api/v1/workflows/{id}");
    for _ in 0..2 {
        assert_eq!(
            call(&app, &Method::GET, &path, Some(&hasty)).await.status(),
            200
        );
    }
    let refused = call(&app, &Method::GET, &path, Some(&hasty)).await;
    assert_problem(
        &refused,
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "third request",
    );
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((900..=1000).contains(&retry_after), "{retry_after}");
    assert_eq!(
        call(&app, &Method::GET, &path, Some(&calm)).await.status(),
        200
    );
    let health = call(&app, &Method::GET, "/health/live", None).await;
    assert_eq!(health.status(), 200, "liveness is not rate limited");
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_body_over_the_limit_is_refused_with_413(pool: PgPool) {
    let limits = Limits {
        body_bytes: 1024,
        ..Limits::default()
    };
    let app = App::with(pool, FeedConfig::default(), true, secured(limits)).await;
    let key = ApiKeys::new(app.engine.store().clone())
        .create(Role::Operator, "big", &SystemClock::default())
        .await
        .unwrap()
        .key;
    let client = reqwest::Client::new();
    let send = |input: Value| {
        client
            .post(format!("{}/api/v1/workflows", app.url))
            .bearer_auth(&key)
            .json(&json!({ "definition": "beta", "input": input }))
            .send()
    };
    let big = send(json!({ "blob": "x".repeat(4096) })).await.unwrap();
    assert_problem(&big, StatusCode::PAYLOAD_TOO_LARGE, None, "4 KiB body");
    let small = send(json!({ "blob": "x" })).await.unwrap();
    assert_eq!(small.status(), 201);
}

#[test]
fn rs256_tokens_verify_with_the_public_key_alone() {
    // A key pair made for this test only (openssl genpkey -algorithm RSA).
    let private = include_bytes!("fixtures/jwt-rs256-private.pem");
    let public = include_bytes!("fixtures/jwt-rs256-public.pem");
    let verifier = JwtVerifier::rs256(public).unwrap();
    let exp = chrono::Utc::now().timestamp() + 600;
    let claims = json!({ "sub": "svc", "role": "approver", "exp": exp });
    let signed = encode(
        &Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &EncodingKey::from_rsa_pem(private).unwrap(),
    )
    .unwrap();
    let caller = verifier.verify(&signed).unwrap();
    assert_eq!(
        (caller.id.as_str(), caller.role),
        ("jwt:svc", Role::Approver)
    );
    let hmac = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(public),
    )
    .unwrap();
    assert_eq!(
        verifier.verify(&hmac),
        None,
        "an HS256 token signed with the public key"
    );
    assert!(JwtVerifier::rs256(b"not a key").is_err());
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn a_request_over_the_time_limit_gets_503(pool: PgPool) {
    let limits = Limits {
        request_timeout: std::time::Duration::from_millis(200),
        ..Limits::default()
    };
    let app = App::with(pool.clone(), FeedConfig::default(), true, |_| ApiConfig {
        limits,
        ..ApiConfig::default()
    })
    .await;
    let id = app.start("beta").await.0;
    // The read model's table is locked: the handler's query cannot finish.
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query("lock table workflow_instances in access exclusive mode")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let slow = call(&app, &Method::GET, &format!("/api/v1/workflows/{id}"), None).await;
    assert_problem(
        &slow,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "no time to answer",
    );
    blocker.rollback().await.unwrap();
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn an_open_node_does_not_rate_limit_its_anonymous_caller(pool: PgPool) {
    // A bucket of two that never refills: a limited caller's third request is refused.
    let limits = Limits {
        requests_per_second: 0.001,
        burst: 2,
        ..Limits::default()
    };
    let app = App::with(pool, FeedConfig::default(), true, |_| ApiConfig {
        authentication: Authentication::Open,
        limits,
        handout: None,
        fleet: None,
    })
    .await;
    let id = app.start("beta").await.0.to_string();
    let path = format!("/api/v1/workflows/{id}");
    for request in 1..=10 {
        let status = call(&app, &Method::GET, &path, None).await.status();
        assert_eq!(
            status, 200,
            "request {request} of the open node's one caller"
        );
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn the_default_limit_lets_one_caller_make_a_thousand_requests_at_once(pool: PgPool) {
    let app = App::with(
        pool,
        FeedConfig::default(),
        true,
        secured(Limits::default()),
    )
    .await;
    let key = ApiKeys::new(app.engine.store().clone())
        .create(Role::Operator, "busy", &SystemClock::default())
        .await
        .unwrap()
        .key;
    let id = app.start("beta").await.0.to_string();
    let url = format!("{}/api/v1/workflows/{id}", app.url);
    let client = reqwest::Client::new();
    // Fifty at a time, as a client that keeps a node busy does.
    let mut lanes = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        lanes.spawn(async move {
            let mut refused = 0;
            for _ in 0..20 {
                let response = client.get(&url).bearer_auth(&key).send().await.unwrap();
                refused += usize::from(response.status() == StatusCode::TOO_MANY_REQUESTS);
            }
            refused
        });
    }
    let refused: usize = lanes.join_all().await.into_iter().sum();
    assert_eq!(refused, 0, "of 1,000 requests by one caller, refused");
}
