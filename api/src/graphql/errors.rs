//! GraphQL errors that mirror the REST problems: `extensions.code` names the
//! kind (`NOT_FOUND`, `CONFLICT`, `FORBIDDEN`, `UNAUTHENTICATED`,
//! `INVALID_INPUT`, ...), `extensions.status` is the HTTP status REST would
//! answer, and an invalid definition carries every `problem` with its
//! `line` and `column`. Internal detail is logged, never sent.

use async_graphql::{Error, ErrorExtensionValues, ErrorExtensions, ServerError, Value};
use axum::http::StatusCode;

use crate::ApiError;

/// The code of a problem with this HTTP status.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "INVALID_INPUT",
        StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::CONFLICT => "CONFLICT",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
        StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// The problem REST would answer, as a GraphQL error.
pub(crate) fn graphql(error: ApiError) -> Error {
    let (status, kind, detail) = error.parts();
    if status.is_server_error() {
        tracing::error!(%status, %error, "a GraphQL operation failed on the server");
    }
    let problems = match &error {
        ApiError::Unprocessable { problems, .. } => problems.clone(),
        _ => Vec::new(),
    };
    let waits_for = match &error {
        ApiError::App(application::Error::Rejected(
            domain::instance::DomainError::UnknownSignal { expected, .. },
        )) => Some(expected.clone()),
        _ => None,
    };
    Error::new(detail).extend_with(|_, extensions| {
        describe(extensions, code(status), status);
        if let Some(names) = &waits_for {
            extensions.set(
                "waitsFor",
                Value::List(names.iter().cloned().map(Value::from).collect()),
            );
        }
        extensions.set("type", format!("https://distorch.dev/problems/{kind}"));
        if !problems.is_empty() {
            let problems = problems.into_iter().map(Value::from_json);
            extensions.set(
                "problems",
                Value::List(problems.filter_map(Result::ok).collect()),
            );
        }
    })
}

/// A request error (refused before anything ran) with a code.
pub(crate) fn refused(error: ApiError) -> ServerError {
    let (status, _, detail) = error.parts();
    let mut refused = ServerError::new(detail, None);
    let mut extensions = ErrorExtensionValues::default();
    describe(&mut extensions, code(status), status);
    refused.extensions = Some(extensions);
    refused
}

fn describe(extensions: &mut ErrorExtensionValues, code: &str, status: StatusCode) {
    extensions.set("code", code);
    extensions.set("status", status.as_u16());
}

/// Tags the errors of a request the schema refused (a parse error, a
/// validation error, a limit) with a code, unless it has one.
pub(crate) fn tag_refusal(error: &mut ServerError) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
    {
        return;
    }
    let code = if error.message.contains("too complex") {
        "TOO_COMPLEX"
    } else if error.message.contains("nested too deep") {
        "TOO_DEEP"
    } else {
        "INVALID_INPUT"
    };
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code);
    extensions.set("status", StatusCode::BAD_REQUEST.as_u16());
}
