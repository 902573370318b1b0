//! What operators and orchestrators poll: `GET /metrics` (Prometheus text
//! format, gzipped when the scraper accepts it, as Prometheus does) and
//! `GET /health/ready` (200 when every check passes, else 503, with each
//! check's outcome in the body).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

use application::metrics::{self, Telemetry};
use application::ports::Check;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

/// The Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn operations_router(telemetry: Arc<Telemetry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health/ready", get(ready))
        .with_state(telemetry)
}

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `up`.
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "Up", body = Liveness)),
    security(()),
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "up" })
}

/// Every metric in the Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String)),
    security(()),
)]
pub(crate) async fn metrics(
    State(telemetry): State<Arc<Telemetry>>,
    headers: HeaderMap,
) -> Response {
    let text = telemetry.render().await;
    if !accepts_gzip(&headers) {
        return ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response();
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::fast(),
    );
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish());
    match compressed {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, TEXT_FORMAT),
                (header::CONTENT_ENCODING, "gzip"),
                (header::VARY, "accept-encoding"),
            ],
            body,
        )
            .into_response(),
        Err(_) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
    }
}

/// Whether `Accept-Encoding` lists gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// One check of readiness.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CheckOutcome {
    /// `up` or `down`.
    status: &'static str,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ready` or `not_ready`.
    status: &'static str,
    /// Each check (store, broker, definitions...) by name.
    checks: BTreeMap<String, CheckOutcome>,
}

/// Readiness: 200 when every check passes, else 503; each check's outcome
/// in the body.
#[utoipa::path(
    get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "Not ready: a check is down", body = Readiness),
    ),
    security(()),
)]
pub(crate) async fn ready(State(telemetry): State<Arc<Telemetry>>) -> Response {
    let readiness = telemetry.readiness().await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness::from(&readiness))).into_response()
}

impl From<&metrics::Readiness> for Readiness {
    fn from(readiness: &metrics::Readiness) -> Self {
        let outcome = |check: &Check| CheckOutcome {
            status: if check.problem.is_none() {
                "up"
            } else {
                "down"
            },
            problem: check.problem.clone(),
        };
        Self {
            status: if readiness.is_ready() {
                "ready"
            } else {
                "not_ready"
            },
            checks: (readiness.checks.iter())
                .map(|check| (check.name.to_owned(), outcome(check)))
                .collect(),
        }
    }
}
