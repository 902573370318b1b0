//! The OpenAPI 3.1 document, derived from the handlers (`#[utoipa::path]`)
//! and the types they take and answer, then completed from the permission
//! table: each route's security and the errors the guard and the limits
//! answer with. Served at `/openapi.json`, with Swagger UI (vendored, so
//! it works offline) at `/docs`.

use axum::Router;
use axum::http::Method;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use application::auth::Permission;

use crate::auth::QUERY_TOKEN_ROUTES;
use crate::auth::routes::ROUTES;
use crate::{
    approvals, definitions, error, feeds, graphql, me, operations, overview, poll, schedules,
    starts, stats, step_figures, tasks, views, workers, workflows,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DisTorch",
        description = "A durable workflow engine: YAML-declared DAGs, sagas, event-sourced state. \
            Errors are RFC 9457 problem documents (`application/problem+json`).",
    ),
    paths(
        definitions::deploy, definitions::list, definitions::show, definitions::version,
        starts::start, starts::batch,
        schedules::create, schedules::list, schedules::show, schedules::delete,
        schedules::pause, schedules::resume,
        workflows::list, workflows::show, workflows::events,
        workflows::pause, workflows::resume, workflows::cancel, workflows::signal,
        tasks::show, tasks::retry, tasks::skip, tasks::approve, tasks::reject,
        tasks::complete, tasks::fail, tasks::heartbeat, poll::poll,
        stats::stats, stats::bottlenecks, overview::show,
        approvals::list, step_figures::steps, me::me,
        workers::list, workers::show, workers::drain, workers::stream,
        feeds::stream_all, feeds::stream_workflow, feeds::websocket,
        operations::live, operations::ready, operations::metrics,
        graphql::http::post, graphql::http::query_or_page, graphql::http::websocket,
    ),
    components(schemas(error::Problem, feeds::FeedEvent, views::Workflow)),
    tags(
        (name = "definitions", description = "Workflow definitions"),
        (name = "workflows", description = "Workflow instances: start, read, command"),
        (name = "schedules", description = "Cron schedules that start workflows"),
        (name = "tasks", description = "Steps: operator commands, approvals, and workers that speak HTTP"),
        (name = "workers", description = "The fleet: workers, their status, drains"),
        (name = "stats", description = "Statistics from the read models"),
        (name = "auth", description = "The caller"),
        (name = "feeds", description = "The event log, live: Server-Sent Events and WebSocket"),
        (name = "operations", description = "Health and metrics"),
        (name = "graphql", description = "The same queries and commands in GraphQL (docs/api.md#graphql)"),
        (name = "docs", description = "This document and its interactive page"),
    ),
)]
struct ApiDoc;

/// The routes this module serves, documented here rather than by a handler.
const DOCUMENT: &str = "/openapi.json";
const DOCS: &str = "/docs";

/// `/openapi.json` and the Swagger UI at `/docs`.
pub fn router<T: Clone + Send + Sync + 'static>() -> Router<T> {
    let config = Config::new([DOCUMENT])
        .validator_url("none")
        .try_it_out_enabled(true);
    SwaggerUi::new(DOCS)
        .external_url_unchecked(DOCUMENT, document())
        .config(config)
        .into()
}

/// The whole document.
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    document["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <token>`: a JWT (claims `sub`, `role`, `exp`, \
                and `iss`/`aud` when the node expects them) or an API key `dtk_…`",
        },
        "api_key": {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key `dtk_…` (`distorch apikey create`)",
        },
        "access_token": {
            "type": "apiKey",
            "in": "query",
            "name": "access_token",
            "description": "A JWT or an API key in the query, for the SSE routes only \
                (a browser's `EventSource` cannot set headers)",
        },
    });
    document_docs(&mut document["paths"]);
    for (method, route, permission) in ROUTES {
        let path = route.replace("{*", "{");
        let operation = document["paths"]
            .get_mut(path.as_str())
            .and_then(|item| item.get_mut(method.as_str().to_lowercase()))
            .filter(|operation| operation.is_object());
        if let Some(operation) = operation {
            guarded(operation, route, *permission);
        }
    }
    let paths = document["paths"].as_object_mut();
    for item in paths.into_iter().flat_map(|paths| paths.values_mut()) {
        let operations = item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut());
        for operation in operations.filter(|operation| operation.is_object()) {
            name_operation(operation);
        }
    }
    document
}

/// Security, the permission in the description, and the guard's and the
/// limits' errors, for a route behind the guard.
fn guarded(operation: &mut Value, route: &str, permission: Permission) {
    let mut security = vec![json!({ "bearer": [] }), json!({ "api_key": [] })];
    if QUERY_TOKEN_ROUTES.contains(&route) {
        security.push(json!({ "access_token": [] }));
    }
    if permission == Permission::Public {
        security.insert(0, json!({}));
    }
    operation["security"] = Value::Array(security);
    let text = operation["description"].as_str().unwrap_or_default();
    operation["description"] = json!(format!("{text}\n\nPermission: `{}`.", permission.as_str()));
    let responses = &mut operation["responses"];
    add(
        responses,
        "401",
        problem("No valid credential (a bad one on a public route)")
            .with_header("WWW-Authenticate", "`Bearer realm=\"distorch\"`"),
    );
    if permission != Permission::Public {
        add(
            responses,
            "403",
            problem("The caller's role lacks the permission").with_header(
                "WWW-Authenticate",
                "`Bearer realm=\"distorch\", error=\"insufficient_scope\"`",
            ),
        );
    }
    add(
        responses,
        "429",
        problem("The caller's rate limit is spent")
            .with_header("Retry-After", "Seconds until a request is admitted again"),
    );
    add(
        responses,
        "503",
        problem("Over the request time limit, or a dependency is unavailable: retry later"),
    );
}

trait WithHeader {
    fn with_header(self, name: &str, description: &str) -> Self;
}

impl WithHeader for Value {
    fn with_header(mut self, name: &str, description: &str) -> Self {
        self["headers"][name] = json!({
            "description": description,
            "schema": { "type": "string" },
        });
        self
    }
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {
            "application/problem+json": {
                "schema": { "$ref": "#/components/schemas/Problem" },
            },
        },
    })
}

/// Adds a response unless the route documents its own for that status.
fn add(responses: &mut Value, status: &str, response: Value) {
    if responses.get(status).is_none() {
        responses[status] = response;
    }
}

/// Operation ids are the handlers' names, unique only within a module:
/// prefixed with the tag.
fn name_operation(operation: &mut Value) {
    let tag = operation["tags"][0].as_str().unwrap_or("api").to_owned();
    if let Some(id) = operation["operationId"].as_str() {
        operation["operationId"] = json!(format!("{tag}_{id}"));
    }
}

/// The routes of this module.
fn document_docs(paths: &mut Value) {
    let get = |id: &str, summary: &str, responses: Value| {
        json!({ "get": {
            "tags": ["docs"],
            "operationId": id,
            "summary": summary,
            "responses": responses,
        }})
    };
    paths[DOCUMENT] = get(
        "document",
        "This OpenAPI document",
        json!({ "200": {
            "description": "The document",
            "content": { "application/json": { "schema": { "type": "object" } } },
        }}),
    );
    paths[DOCS] = get(
        "page_redirect",
        "Redirects to the interactive documentation page",
        json!({ "303": { "description": "To `/docs/`" } }),
    );
    paths[format!("{DOCS}/")] = get(
        "page",
        "The interactive documentation page (Swagger UI, served from this node)",
        json!({ "200": {
            "description": "The page",
            "content": { "text/html": { "schema": { "type": "string" } } },
        }}),
    );
    let mut asset = get(
        "asset",
        "The page's scripts and styles",
        json!({
            "200": { "description": "The file", "content": { "*/*": { "schema": {} } } },
            "404": { "description": "No such file" },
        }),
    );
    asset["get"]["parameters"] = json!([{
        "name": "rest",
        "in": "path",
        "required": true,
        "description": "The file's name",
        "schema": { "type": "string" },
    }]);
    paths[format!("{DOCS}/{{rest}}")] = asset;
}

/// Whether the document has an operation for `method` on `route` (a route
/// template as the router matches it).
pub fn documents(document: &Value, method: &Method, route: &str) -> bool {
    let path = route.replace("{*", "{");
    document["paths"][path.as_str()][method.as_str().to_lowercase()].is_object()
}
