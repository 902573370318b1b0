//! Extractors whose rejections are problem documents: axum's own answer a
//! malformed path, query or body with plain text.

use axum::extract::rejection::{JsonRejection, StringRejection};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The path's parameters; 400 when they do not decode (a segment that is
/// not UTF-8 once percent-decoded, say).
#[derive(Debug)]
pub(crate) struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// The query string; 400 when it does not decode.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
    }
}

/// A text body (a definition's source): 400 when not UTF-8, 413 when over
/// the limit.
pub(crate) fn text(body: Result<String, StringRejection>) -> Result<String, ApiError> {
    body.map_err(|rejection| ApiError::rejected(rejection.status(), rejection.body_text()))
}

/// An optional JSON body: absent (no JSON content type) or `null` is
/// `None`; present and malformed is a 400 (413 over the limit).
pub(crate) fn optional<T>(
    body: Result<Option<axum::Json<Option<T>>>, JsonRejection>,
) -> Result<Option<T>, ApiError> {
    body.map(|json| json.and_then(|axum::Json(value)| value))
        .map_err(ApiError::from)
}
