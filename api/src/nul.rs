//! A NUL character (`\u0000`) cannot be stored: PostgreSQL's `text` and
//! `jsonb` refuse it. A request holding one, in a query parameter or
//! anywhere in a JSON body (a value or a key), is refused with 400 naming
//! where, before anything runs, the same on every store.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;

/// The middleware; `limit` is the largest body the node takes.
pub(crate) async fn refuse_nul(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(name) = query_holding_nul(request.uri().query().unwrap_or_default()) {
        return refused(&format!("the query parameter `{name}`"));
    }
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if !json {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, limit).await else {
        return ApiError::PayloadTooLarge(format!("the body is larger than {limit} bytes"))
            .into_response();
    };
    // JSON writes NUL only as the escape `\u0000`: look for it before parsing.
    if bytes.windows(6).any(|window| window == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<Value>(&bytes)
        && let Some(path) = path_to_nul(&value, "")
    {
        return refused(&format!(
            "`{}` in the body",
            if path.is_empty() { "/" } else { &path }
        ));
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn refused(place: &str) -> Response {
    ApiError::BadRequest(format!(
        "{place} holds a NUL character (\\u0000), which cannot be stored"
    ))
    .into_response()
}

/// The first parameter (by name) whose name or value holds NUL once decoded.
fn query_holding_nul(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decoded(name), percent_decoded(value));
        (name.contains(&0) || value.contains(&0))
            .then(|| String::from_utf8_lossy(&name).replace('\0', "\\u0000"))
    })
}

fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    decoded
}

/// A JSON Pointer to the first string or key holding NUL.
fn path_to_nul(value: &Value, at: &str) -> Option<String> {
    let escape = |key: &str| {
        key.replace('~', "~0")
            .replace('/', "~1")
            .replace('\0', "\\u0000")
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(at.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| path_to_nul(item, &format!("{at}/{index}"))),
        Value::Object(entries) => entries.iter().find_map(|(key, item)| {
            let here = format!("{at}/{}", escape(key));
            if key.contains('\0') {
                Some(here)
            } else {
                path_to_nul(item, &here)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_in_values_keys_and_query_parameters() {
        let body = json!({"input": {"a": [1, "x\u{0}"], "ok": "\\u0000"}});
        assert_eq!(path_to_nul(&body, ""), Some("/input/a/1".to_owned()));
        let key = json!({"input": {"k\u{0}": 1}});
        assert_eq!(path_to_nul(&key, ""), Some("/input/k\\u0000".to_owned()));
        assert_eq!(path_to_nul(&json!({"ok": "\\u0000 is text"}), ""), None);
        assert_eq!(
            query_holding_nul("limit=3&definition=a%00b"),
            Some("definition".to_owned())
        );
        assert_eq!(query_holding_nul("status=running&x=%2500"), None);
    }
}
