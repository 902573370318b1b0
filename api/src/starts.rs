//! `POST /api/v1/workflows` and `/workflows/batch`: starting workflows, with
//! an optional `Idempotency-Key`: a repeated request with the same key
//! returns the workflow the first one started (and a different request
//! under the same key is refused).

use application::catalog;
use application::trace::{TRACEPARENT, TraceParent};
use application::{Engine, Error, Origin};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use domain::InstanceId;
use domain::instance::DomainError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Problem;
use crate::views::{Started, StartedBatch};
use crate::workflows::body;
use crate::{ApiError, App, Caller, ReadModels, Shared, Store};

/// The most workflows one batch starts.
pub(crate) const MAX_BATCH: usize = 100;

/// A workflow to start.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRequest {
    /// The definition's name.
    definition: String,
    /// Its version; the latest when absent.
    version: Option<u32>,
    /// The input, checked against the definition's input schema.
    #[serde(default)]
    input: Value,
}

/// Workflows to start together: all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    /// 1 to 100 starts.
    #[schema(min_items = 1, max_items = 100)]
    workflows: Vec<StartRequest>,
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(key) if !key.is_empty() && key.len() <= 255 => Ok(Some(key.to_owned())),
            _ => Err(ApiError::BadRequest(
                "`Idempotency-Key` must be 1 to 255 visible ASCII characters".to_owned(),
            )),
        },
    }
}

/// The trace a start continues: a valid W3C `traceparent` header (an
/// invalid one is ignored, as the W3C recommendation says).
fn origin(caller: &Caller, headers: &HeaderMap) -> Origin {
    Origin {
        traceparent: headers
            .get(TRACEPARENT)
            .and_then(|value| value.to_str().ok())
            .and_then(TraceParent::parse),
        ..caller.origin()
    }
}

/// Starts a workflow.
#[utoipa::path(
    post, path = "/api/v1/workflows", tag = "workflows",
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters: a repeated request with the same key returns the workflow the first one started")),
    request_body = StartRequest,
    responses(
        (status = 201, description = "Started", body = Started),
        (status = 400, description = "A malformed body or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such definition or version", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The input schema refuses the input; the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn start<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    headers: HeaderMap,
    payload: Result<Json<StartRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let key = idempotency_key(&headers)?;
    let request = body(payload)?;
    check(&app, &request).await?;
    let origin = origin(&caller, &headers);
    let id = start_one(&app, &origin, &request, key.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(Started { id: id.0 })))
}

/// Starts every workflow of the batch, or none when any is refused: all are
/// checked (definition, input schema) before the first starts. Should the
/// store fail midway, the same request with the same `Idempotency-Key`
/// finishes the batch without starting any workflow twice.
#[utoipa::path(
    post, path = "/api/v1/workflows/batch", tag = "workflows",
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters: repeating a batch that failed midway finishes it without starting any twice")),
    request_body = BatchRequest,
    responses(
        (status = 201, description = "Every workflow started", body = StartedBatch),
        (status = 400, description = "A malformed body or Idempotency-Key; not 1 to 100 starts", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Some starts were refused (each by its `index`): none started", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn batch<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    headers: HeaderMap,
    payload: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<StartedBatch>), ApiError> {
    let key = idempotency_key(&headers)?;
    let requests = body(payload)?.workflows;
    if requests.is_empty() || requests.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!(
            "a batch starts 1 to {MAX_BATCH} workflows, not {}",
            requests.len()
        )));
    }
    let mut problems = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        if let Err(error) = check(&app, request).await {
            problems.push(json!({ "index": index, "message": error.to_string() }));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable {
            detail: format!(
                "{} of the batch's workflows were refused; none started",
                problems.len()
            ),
            problems,
        });
    }
    let origin = origin(&caller, &headers);
    let mut ids = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let item_key = key.as_ref().map(|key| format!("{key}#{index}"));
        ids.push(
            start_one(&app, &origin, request, item_key.as_deref())
                .await?
                .0,
        );
    }
    Ok((StatusCode::CREATED, Json(StartedBatch { ids })))
}

impl StartRequest {
    pub(crate) fn new(definition: String, version: Option<u32>, input: Value) -> Self {
        Self {
            definition,
            version,
            input,
        }
    }
}

/// Refuses a start that cannot succeed: an unknown definition or an input
/// its schema rejects.
pub(crate) async fn check<S: Store, R: ReadModels>(
    app: &App<S, R>,
    request: &StartRequest,
) -> Result<(), Error> {
    let registry = app.engine.definitions();
    // Deployed on another node since this one started: load it here first.
    if registry.get(&request.definition, request.version).is_err() {
        catalog::load_stored(registry, &app.read_models).await?;
    }
    let definition = registry.get(&request.definition, request.version)?;
    if let Some(schema) = &definition.input_schema {
        let problems = schema.problems(&request.input);
        if !problems.is_empty() {
            return Err(DomainError::InputRejected { problems }.into());
        }
    }
    Ok(())
}

pub(crate) async fn start_one<S: Store, R: ReadModels>(
    app: &App<S, R>,
    origin: &Origin,
    request: &StartRequest,
    key: Option<&str>,
) -> Result<InstanceId, ApiError> {
    let engine: &Engine<S> = &app.engine;
    let input = request.input.clone();
    let Some(key) = key else {
        let id = engine
            .start(&request.definition, request.version, input, origin)
            .await?;
        return Ok(id);
    };
    let fingerprint = fingerprint(request);
    let fresh = InstanceId(Uuid::now_v7());
    let (id, recorded) = app.read_models.claim_key(key, fresh, &fingerprint).await?;
    if recorded != fingerprint {
        return Err(ApiError::Unprocessable {
            detail: "this Idempotency-Key was used before with a different request".to_owned(),
            problems: Vec::new(),
        });
    }
    match engine
        .start_as(id, &request.definition, request.version, input, origin)
        .await
    {
        Ok(()) => Ok(id),
        // Started by the first request with this key.
        Err(Error::Conflict { .. }) => Ok(id),
        Err(error) => {
            if id == fresh {
                app.read_models.release_key(key).await?;
            }
            Err(error.into())
        }
    }
}

/// FNV-1a of the request's JSON: the same request gives the same fingerprint.
fn fingerprint(request: &StartRequest) -> String {
    let text = serde_json::to_string(request).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}
