//! API errors as RFC 9457 problem documents: one enum, one status table;
//! internal detail is logged, never sent.

use application::Error;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::instance::DomainError;
use serde_json::json;

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
    App(Error),
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError::App(error)
    }
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String) {
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
            ApiError::App(error) => match error {
                Error::Rejected(DomainError::InputRejected { .. }) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "input-rejected",
                    error.to_string(),
                ),
                Error::Rejected(DomainError::UnknownStep { .. }) => {
                    (StatusCode::NOT_FOUND, "unknown-step", error.to_string())
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
                Error::Unavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a dependency is unavailable; retry later".into(),
                ),
                Error::Corrupt { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred".into(),
                ),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind, detail) = self.parts();
        if status.is_server_error() {
            eprintln!("{status}: {self:?}");
        }
        let mut body = json!({
            "type": format!("https://distorch.dev/problems/{kind}"),
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let ApiError::Unprocessable { problems, .. } = self {
            body["problems"] = serde_json::Value::Array(problems);
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}
