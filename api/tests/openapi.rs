//! The OpenAPI document against the router it describes: every route the
//! router serves and every line of the permission table is documented (and
//! nothing else is), every reference resolves, and the document and the
//! docs page are served. Plus the problem documents that used to be
//! axum's plain-text rejections.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use api::auth::routes::ROUTES;
use application::Engine;
use application::clock::SystemClock;
use application::definitions::DefinitionRegistry;
use application::feed::{EventFeed, FeedConfig, FeedSignal};
use application::metrics::{Metrics, Telemetry};
use axum::http::Method;
use infrastructure::store::{PgEventStore, PgReadModels};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::App;

/// The routes outside the guard, served beside the API by every node.
const OPERATIONS: [&str; 2] = ["/metrics", "/health/ready"];

/// The path templates of a router, from its `Debug` form (axum lists the
/// paths it matches; it has no other way to enumerate them), without its
/// fallback router's (`/` and a catch-all of axum's own).
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let text = format!("{router:?}");
    let routes = text.split("fallback_router").next().unwrap_or_default();
    let mut paths = BTreeSet::new();
    for piece in routes.split('"').skip(1).step_by(2) {
        if piece.starts_with('/') {
            paths.insert(piece.replace("{*", "{"));
        }
    }
    paths
}

/// `(method, path)` of every operation in the document.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => found.push(target.clone()),
                    _ => references(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, found)),
        _ => {}
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn every_route_of_the_router_and_of_the_permission_table_is_documented(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    let registry = Arc::new(DefinitionRegistry::default());
    let clock = Arc::new(SystemClock::default());
    let engine = Arc::new(Engine::new(store.clone(), registry.clone(), clock.clone()));
    let feed = Arc::new(EventFeed::new(
        Arc::new(store),
        Arc::new(FeedSignal::default()),
        FeedConfig::default(),
    ));
    let telemetry = Telemetry::new(Arc::new(Metrics::new()), registry, clock);
    let router = api::router(engine, PgReadModels::new(pool), feed, Default::default())
        .merge(api::operations_router(Arc::new(telemetry)));
    let document = api::openapi::document();
    let documented = operations(&document);
    let documented_paths: BTreeSet<String> =
        documented.iter().map(|(_, path)| path.clone()).collect();

    let served = router_paths(&router);
    assert!(
        served.len() > 20,
        "the router's paths were not found: {served:?}"
    );
    let undocumented: Vec<_> = served.difference(&documented_paths).collect();
    assert!(
        undocumented.is_empty(),
        "served, not documented: {undocumented:?}"
    );

    for (method, route, _) in ROUTES {
        assert!(
            api::openapi::documents(&document, method, route),
            "{method} {route} is in the permission table, not in the document"
        );
    }
    for (method, path) in &documented {
        let listed = ROUTES
            .iter()
            .any(|(m, r, _)| m.as_str() == method && r.replace("{*", "{") == *path)
            || (method == "GET" && OPERATIONS.contains(&path.as_str()));
        assert!(listed, "{method} {path} is documented but not routed");
    }
    assert!(api::openapi::documents(
        &document,
        &Method::GET,
        "/api/v1/tasks/poll"
    ));
}

#[test]
fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let document = api::openapi::document();
    assert_eq!(document["openapi"], "3.1.0");
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{target} does not resolve"
        );
    }
    let mut ids = BTreeSet::new();
    for (_, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(
                ids.insert(id.to_owned()),
                "{method}: operationId {id} twice"
            );
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{id} documents no response"
            );
        }
    }
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(schemes["access_token"]["in"], "query");
    let stream = &document["paths"]["/api/v1/events/stream"]["get"];
    assert!(stream["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert!(
        stream["security"]
            .as_array()
            .unwrap()
            .contains(&json!({ "access_token": [] }))
    );
    let start = &document["paths"]["/api/v1/workflows"]["post"];
    for status in [
        "400", "401", "403", "404", "413", "415", "422", "429", "503",
    ] {
        assert_eq!(
            start["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "POST /api/v1/workflows {status}"
        );
    }
}

#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn the_document_and_the_docs_page_are_served_without_a_credential(pool: PgPool) {
    let app = App::new(pool, FeedConfig::default(), true).await;
    let client = reqwest::Client::new();
    let served: Value = client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, api::openapi::document());
    let page = client
        .get(format!("{}/docs", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    let script = client
        .get(format!("{}/docs/swagger-initializer.js", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(script.contains("/openapi.json"), "{script}");
    assert!(!script.contains("validator.swagger.io"), "{script}");
}

async fn problem_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// Bad paths, queries and bodies that axum's extractors would have answered
/// in plain text (found by schemathesis) are problem documents.
#[sqlx::test(migrator = "infrastructure::store::POSTGRES_MIGRATIONS")]
async fn malformed_paths_queries_and_bodies_are_answered_with_problems(pool: PgPool) {
    let app = App::new(pool, FeedConfig::default(), true).await;
    let id = app.start("beta").await.0;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", app.url);

    let not_utf8 = client
        .get(url("/api/v1/definitions/%FF"))
        .send()
        .await
        .unwrap();
    problem_of(not_utf8, 400).await;
    let bad_query = client
        .get(url("/api/v1/workflows?limit=%FF%FE"))
        .send()
        .await
        .unwrap();
    problem_of(bad_query, 400).await;
    let bad_body = client
        .post(url(&format!("/api/v1/workflows/{id}/cancel")))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem_of(bad_body, 400).await;
    let not_json = client
        .post(url("/api/v1/workflows"))
        .header("content-type", "text/plain")
        .body("beta")
        .send()
        .await
        .unwrap();
    let problem = problem_of(not_json, 415).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("unsupported-media-type")
    );
    let source_not_utf8 = client
        .post(url("/api/v1/definitions"))
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    problem_of(source_not_utf8, 400).await;
    let not_an_upgrade = client.get(url("/ws/events")).send().await.unwrap();
    problem_of(not_an_upgrade, 400).await;

    // A JSON `null` is no body: the defaults apply.
    let cancelled = client
        .post(url(&format!("/api/v1/workflows/{id}/cancel")))
        .json(&Value::Null)
        .send()
        .await
        .unwrap();
    assert_ne!(cancelled.status(), 400);
}
