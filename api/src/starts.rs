//! `POST /api/v1/workflows` and `/workflows/batch`: starting workflows, with
//! an optional `Idempotency-Key` ([`application::starts`]).

use application::Origin;
use application::starts::{self, IdempotencyKey, Start, StartError};
use application::trace::{TRACEPARENT, TraceParent};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::Problem;
use crate::problems::{JsonBody, NoSuchVersion};
use crate::views::{Started, StartedBatch};
use crate::workflows::body;
use crate::{ApiError, Caller, ReadModels, Shared, Store};

/// A workflow to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRequest {
    /// The definition's name.
    definition: String,
    /// Its version; the latest when absent.
    version: Option<u32>,
    /// The input, checked against the definition's input schema.
    #[serde(default)]
    input: Value,
    /// When to start (RFC 3339). A later time answers at once with a
    /// workflow in status `scheduled`, which can be cancelled until then;
    /// a time not in the future starts at once.
    #[schema(value_type = Option<String>, format = DateTime)]
    start_at: Option<DateTime<Utc>>,
}

impl From<StartRequest> for Start {
    fn from(request: StartRequest) -> Self {
        Start {
            definition: request.definition,
            version: request.version,
            input: request.input,
            start_at: request.start_at,
        }
    }
}

/// Workflows to start together: all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    /// 1 to 100 starts.
    #[schema(min_items = 1, max_items = 100)]
    workflows: Vec<StartRequest>,
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(IdempotencyKey::parse)
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`Idempotency-Key` must be 1 to {} visible ASCII characters",
                IdempotencyKey::MAX_LEN
            ))
        })
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

/// As REST and GraphQL answer a refused start.
impl From<StartError> for ApiError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::BatchSize(_) => ApiError::BadRequest(error.to_string()),
            StartError::Refused(ref refused) => ApiError::Unprocessable {
                problems: refused
                    .iter()
                    .map(|(index, error)| json!({ "index": index, "message": error.to_string() }))
                    .collect(),
                detail: error.to_string(),
            },
            StartError::KeyReused => ApiError::Unprocessable {
                detail: error.to_string(),
                problems: Vec::new(),
            },
            StartError::Failed(error) => error.into(),
        }
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
        (status = 422, description = "The input schema refuses the input; the Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json"),
        NoSuchVersion, JsonBody,
    ),
)]
pub(crate) async fn start<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    headers: HeaderMap,
    payload: Result<Json<StartRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let key = idempotency_key(&headers)?;
    let start = Start::from(body(payload)?);
    let origin = origin(&caller, &headers);
    let id = starts::start(&app.engine, &app.read_models, &start, key.as_ref(), &origin).await?;
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
        (status = 422, description = "Some starts were refused (each by its `index`): none started", body = Problem, content_type = "application/problem+json"),
        JsonBody,
    ),
)]
pub(crate) async fn batch<S: Store, R: ReadModels>(
    State(app): Shared<S, R>,
    caller: Caller,
    headers: HeaderMap,
    payload: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<StartedBatch>), ApiError> {
    let key = idempotency_key(&headers)?;
    let requests: Vec<Start> = body(payload)?
        .workflows
        .into_iter()
        .map(Into::into)
        .collect();
    let origin = origin(&caller, &headers);
    let (engine, reads) = (&app.engine, &app.read_models);
    let ids = starts::start_batch(engine, reads, &requests, key.as_ref(), &origin).await?;
    let ids = ids.into_iter().map(|id| id.0).collect();
    Ok((StatusCode::CREATED, Json(StartedBatch { ids })))
}
