//! API errors as RFC 9457 problem documents: one enum, one status table;
//! internal detail is logged, never sent.

use std::time::Duration;

use application::Error;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::instance::DomainError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub enum ApiError {
    /// The request body or path is malformed.
    BadRequest(String),
    /// The request is well-formed but wrong; every problem found, each with
    /// its `line` and `column` where the input has positions.
    Unprocessable {
        detail: String,
        problems: Vec<serde_json::Value>,
    },
    NotFound(String),
    /// The request does not apply to the current state; says why.
    Conflict(String),
    /// No credential, or one that is not valid.
    Unauthorized(String),
    /// A valid caller without the permission the route needs.
    Forbidden(String),
    /// The caller's rate limit is spent for now.
    RateLimited {
        retry_after: Duration,
    },
    PayloadTooLarge(String),
    /// A body in a media type the route does not take.
    UnsupportedMediaType(String),
    /// The request took longer than the node allows.
    Timeout,
    App(Error),
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::rejected(rejection.status(), rejection.body_text())
    }
}

/// A problem document (RFC 9457), as every error is answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, `https://distorch.dev/problems/<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// With 422: every problem found, each with its `message` (and `line`
    /// and `column` for definition sources, `index` for batches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<serde_json::Value>>,
    /// With 409 `unknown-signal`: the signals the workflow waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for: Option<Vec<String>>,
}

/// The challenge of RFC 6750 that tells a client how to authenticate.
const CHALLENGE: &str = r#"Bearer realm="distorch""#;
const CHALLENGE_SCOPE: &str = r#"Bearer realm="distorch", error="insufficient_scope""#;

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError::App(error)
    }
}

impl ApiError {
    /// An extractor's rejection: its status kept where it is one we answer
    /// with (413, 415), a 400 otherwise.
    pub(crate) fn rejected(status: StatusCode, detail: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(detail),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(detail),
            _ => ApiError::BadRequest(detail),
        }
    }

    /// The status, the problem's kind (its `type` is named after it) and
    /// the detail sent.
    pub(crate) fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::BadRequest(detail) => {
                (StatusCode::BAD_REQUEST, "bad-request", detail.clone())
            }
            ApiError::Unprocessable { detail, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail.clone())
            }
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, "conflict", detail.clone()),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not-found",
                format!("{what} not found"),
            ),
            ApiError::Unauthorized(detail) => {
                (StatusCode::UNAUTHORIZED, "unauthenticated", detail.clone())
            }
            ApiError::Forbidden(detail) => (StatusCode::FORBIDDEN, "forbidden", detail.clone()),
            ApiError::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!(
                    "too many requests; retry in {} s",
                    retry_seconds(*retry_after)
                ),
            ),
            ApiError::PayloadTooLarge(detail) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                detail.clone(),
            ),
            ApiError::UnsupportedMediaType(detail) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                detail.clone(),
            ),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; retry later".into(),
            ),
            ApiError::App(error) => match error {
                Error::Rejected(DomainError::InputRejected { .. }) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "input-rejected",
                    error.to_string(),
                ),
                Error::Rejected(DomainError::UnknownStep { .. }) => {
                    (StatusCode::NOT_FOUND, "unknown-step", error.to_string())
                }
                Error::Rejected(DomainError::SignalRejected { .. }) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "signal-rejected",
                    error.to_string(),
                ),
                Error::Rejected(DomainError::UnknownSignal { .. }) => {
                    (StatusCode::CONFLICT, "unknown-signal", error.to_string())
                }
                Error::Rejected(DomainError::NotAnApprover { .. }) => {
                    (StatusCode::FORBIDDEN, "not-an-approver", error.to_string())
                }
                Error::Rejected(_) => (StatusCode::CONFLICT, "not-applicable", error.to_string()),
                Error::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", error.to_string()),
                Error::Invalid { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    error.to_string(),
                ),
                Error::Conflict { .. } => (StatusCode::CONFLICT, "conflict", error.to_string()),
                Error::Unavailable { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a dependency is unavailable; retry later".into(),
                ),
                Error::Corrupt { .. } | Error::Internal { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred".into(),
                ),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    /// What the log tells: the problem's detail, or for an application
    /// error its message and every cause under it (never sent).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::App(error) => error.report().fmt(f),
            other => other.parts().2.fmt(f),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, detail) = self.parts();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, "request failed");
        }
        let body = Problem {
            kind: format!("https://distorch.dev/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            status: status.as_u16(),
            detail,
            problems: match &self {
                ApiError::Unprocessable { problems, .. } => Some(problems.clone()),
                ApiError::App(Error::Rejected(DomainError::SignalRejected {
                    problems, ..
                })) => {
                    let message = |text: &String| serde_json::json!({ "message": text });
                    Some(problems.iter().map(message).collect())
                }
                _ => None,
            },
            waits_for: match &self {
                ApiError::App(Error::Rejected(DomainError::UnknownSignal { expected, .. })) => {
                    Some(expected.clone())
                }
                _ => None,
            },
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            serde_json::to_string(&body).unwrap_or_default(),
        )
            .into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
            }
            ApiError::Forbidden(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE_SCOPE),
                );
            }
            ApiError::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, retry_seconds(*retry_after).into());
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds, at least one (`Retry-After` has no fractions).
fn retry_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_is_logged_with_its_causes_and_answered_without_them() {
        let cause = std::io::Error::other("column 3 does not decode");
        let error = ApiError::App(Error::internal("the database failed", cause));
        let (status, kind, detail) = error.parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(kind, "internal");
        assert_eq!(detail, "an internal error occurred");
        assert_eq!(
            error.to_string(),
            "internal error: the database failed: column 3 does not decode"
        );
    }
}
