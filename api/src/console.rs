//! The web console, embedded in the binary (built from `console/` into
//! `api/console-dist/`, committed so `cargo build` needs no Node). Every GET
//! that no route matched and that is not under `/api/` gets the console's
//! file of that path, or its `index.html` (the console routes deep links
//! itself); anything else is a problem document 404. The vendored GraphiQL
//! page is served at `GET /graphql` from the same bundle.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::ApiError;

#[derive(RustEmbed)]
#[folder = "console-dist/"]
struct Bundle;

/// The console's pages load nothing from elsewhere and run no inline code.
const CONSOLE_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// GraphiQL's editor (Monaco) starts its language services as workers.
const GRAPHIQL_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'";

/// The fallback of the router.
pub(crate) async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let api = path == "/api" || path.starts_with("/api/");
    if api || (method != Method::GET && method != Method::HEAD) {
        return ApiError::NotFound(format!("route {method} {path}")).into_response();
    }
    let name = path.trim_start_matches('/');
    match Bundle::get(name).filter(|_| !name.is_empty()) {
        Some(file) => {
            let immutable = name.starts_with("assets/");
            asset(file, immutable, None)
        }
        None => page("index.html", CONSOLE_POLICY),
    }
}

/// The vendored GraphiQL page.
pub(crate) fn graphiql() -> Response {
    page("graphiql.html", GRAPHIQL_POLICY)
}

fn page(name: &str, policy: &'static str) -> Response {
    match Bundle::get(name) {
        Some(file) => asset(file, false, Some(policy)),
        None => ApiError::NotFound(format!("the console's {name} (not built)")).into_response(),
    }
}

fn asset(
    file: rust_embed::EmbeddedFile,
    immutable: bool,
    policy: Option<&'static str>,
) -> Response {
    let mime = file.metadata.mimetype().to_owned();
    let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(policy) = policy {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(policy),
        );
    }
    response
}
