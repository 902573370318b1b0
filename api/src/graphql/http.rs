//! GraphQL over HTTP and WebSocket: `POST /graphql` (JSON), `GET /graphql`
//! (a query in the URL, or the GraphiQL page without one: vendored in the
//! console's bundle, so it works offline), and
//! `/graphql/ws` (graphql-transport-ws, authenticated by its
//! `connection_init` payload or the upgrade's header).

use std::sync::Arc;

use application::auth::Principal;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, parse_query_string};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Request};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use super::ApiSchema;
use super::access::Identity;
use crate::auth::Guard;
use crate::problems::BodyLimit;
use crate::{ApiError, Caller};

/// One GraphQL request (as documented in OpenAPI; the server reads it with
/// async-graphql's own type).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct GraphQlRequest {
    /// The document: one query, mutation or subscription.
    query: String,
    #[schema(value_type = Option<Object>)]
    variables: Option<Value>,
    #[schema(rename = "operationName")]
    operation_name: Option<String>,
}

/// A GraphQL response: `data`, and `errors` whose `extensions.code` names
/// the REST problem it mirrors (NOT_FOUND, CONFLICT, FORBIDDEN, ...).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct GraphQlResponse {
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    errors: Option<Vec<Value>>,
}

/// The query string of `GET /graphql`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct GraphQlQuery {
    /// A query (mutations and subscriptions are refused by GET); without
    /// one, the GraphiQL page is served.
    query: Option<String>,
    /// JSON-encoded variables.
    variables: Option<String>,
    #[param(rename = "operationName")]
    operation_name: Option<String>,
}

#[derive(Clone)]
pub(crate) struct Endpoint {
    schema: ApiSchema,
    guard: Arc<Guard>,
}

pub(crate) fn router<T>(schema: ApiSchema, guard: Arc<Guard>) -> Router<T>
where
    T: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/graphql", get(query_or_page).post(post))
        .route("/graphql/ws", get(websocket))
        .with_state(Endpoint { schema, guard })
}

/// Runs a request as the caller (the guard admitted it and put it there).
async fn execute(
    endpoint: &Endpoint,
    principal: Option<Principal>,
    caller: Caller,
    request: Request,
) -> Response {
    let Some(principal) = principal else {
        return ApiError::Unauthorized("an API key or a bearer token is required".into())
            .into_response();
    };
    let request = request.data(Identity { principal, caller });
    GraphQLResponse::from(endpoint.schema.execute(request).await).into_response()
}

#[utoipa::path(
    post, path = "/graphql", tag = "graphql",
    request_body(content = GraphQlRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The result; errors of the operation are in `errors`. The content type follows the request's `Accept`: `application/graphql-response+json` (GraphQL over HTTP) or `application/json`",
            content(
                (GraphQlResponse = "application/json"),
                (GraphQlResponse = "application/graphql-response+json"),
            )),
        (status = 400, description = "Not one GraphQL request", body = crate::error::Problem, content_type = "application/problem+json"),
        BodyLimit,
    ),
)]
pub(crate) async fn post(
    State(endpoint): State<Endpoint>,
    principal: Option<Extension<Principal>>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match posted(body) {
        Ok(request) => execute(&endpoint, principal.map(|Extension(p)| p), caller, request).await,
        Err(refused) => refused.into_response(),
    }
}

/// The one GraphQL request of a POST body: a batch would pass the rate
/// limit as one.
fn posted(body: Result<Bytes, BytesRejection>) -> Result<Request, ApiError> {
    let body =
        body.map_err(|rejection| ApiError::rejected(rejection.status(), rejection.body_text()))?;
    serde_json::from_slice(&body).map_err(|error| {
        ApiError::BadRequest(format!(
            "the body is not one GraphQL request (`{{\"query\": ...}}`): {error}"
        ))
    })
}

/// A query in the URL, or GraphiQL without one. Only queries travel by GET.
#[utoipa::path(
    get, path = "/graphql", tag = "graphql",
    params(GraphQlQuery),
    responses(
        (status = 200, description = "The query's result, or the GraphiQL page without a query",
            content(
                (GraphQlResponse = "application/json"),
                (GraphQlResponse = "application/graphql-response+json"),
                (String = "text/html"),
            )),
        (status = 400, description = "Not a GraphQL request, or not a query", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "A query needs a credential", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn query_or_page(
    State(endpoint): State<Endpoint>,
    principal: Option<Extension<Principal>>,
    caller: Caller,
    uri: Uri,
) -> Response {
    let Some(query) = uri.query().filter(|query| !query.is_empty()) else {
        return crate::console::graphiql();
    };
    match queried(query) {
        Ok(request) => execute(&endpoint, principal.map(|Extension(p)| p), caller, request).await,
        Err(refused) => refused.into_response(),
    }
}

/// The request in `GET /graphql`'s query string: only queries travel by GET.
fn queried(query: &str) -> Result<Request, ApiError> {
    let request = parse_query_string(query)
        .map_err(|error| ApiError::BadRequest(format!("not a GraphQL request: {error}")))?;
    let mutates = async_graphql::parser::parse_query(&request.query).is_ok_and(|document| {
        document
            .operations
            .iter()
            .any(|(_, operation)| operation.node.ty != OperationType::Query)
    });
    if mutates {
        return Err(ApiError::BadRequest(
            "only queries travel by GET; POST the others".into(),
        ));
    }
    Ok(request)
}

#[utoipa::path(
    get, path = "/graphql/ws", tag = "graphql",
    responses(
        (status = 101, description = "Switched to WebSocket, protocol `graphql-transport-ws`; the caller authenticates in `connection_init`"),
        (status = 400, description = "Not a WebSocket upgrade, or not the graphql-transport-ws protocol", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn websocket(
    State(endpoint): State<Endpoint>,
    principal: Option<Extension<Principal>>,
    caller: Caller,
    protocol: Result<GraphQLProtocol, StatusCode>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let (upgrade, protocol) = match upgraded(upgrade, protocol) {
        Ok(upgraded) => upgraded,
        Err(refused) => return refused.into_response(),
    };
    let from_header = principal.map(|Extension(principal)| Identity { principal, caller });
    let Endpoint { schema, guard } = endpoint;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| authenticate(guard, payload, from_header))
                .serve()
        })
}

/// A WebSocket upgrade that asks for the `graphql-transport-ws` protocol.
fn upgraded(
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
) -> Result<(WebSocketUpgrade, GraphQLProtocol), ApiError> {
    let upgrade = upgrade.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let protocol = protocol.map_err(|_| {
        ApiError::BadRequest(
            "ask for the `graphql-transport-ws` protocol (Sec-WebSocket-Protocol)".into(),
        )
    })?;
    Ok((upgrade, protocol))
}

/// The caller of a WebSocket: a credential in `connection_init`'s payload
/// wins over the upgrade's header. Refused, the connection closes.
async fn authenticate(
    guard: Arc<Guard>,
    payload: Value,
    from_header: Option<Identity>,
) -> async_graphql::Result<Data> {
    let identity = match credential(&payload) {
        Some(presented) => {
            let principal = guard.verify(presented).await.map_err(refusal)?;
            guard.admit(&principal).map_err(refusal)?;
            Identity {
                caller: Caller::from(&principal),
                principal,
            }
        }
        None => from_header.ok_or_else(|| {
            async_graphql::Error::new(
                "an API key or a bearer token is required: `Authorization` in the payload of connection_init, or the header",
            )
        })?,
    };
    let mut data = Data::default();
    data.insert(identity);
    Ok(data)
}

fn refusal(error: ApiError) -> async_graphql::Error {
    async_graphql::Error::new(error.parts().2)
}

/// `Authorization: Bearer ...`, `X-API-Key` or `token`, any case.
fn credential(payload: &Value) -> Option<&str> {
    let object = payload.as_object()?;
    object.iter().find_map(|(name, value)| {
        let text = value.as_str()?.trim();
        match name.to_ascii_lowercase().as_str() {
            "x-api-key" | "apikey" | "token" => Some(text),
            "authorization" => {
                let (scheme, value) = text.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
            }
            _ => None,
        }
    })
}
