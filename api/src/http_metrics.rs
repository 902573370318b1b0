//! Counts every HTTP request by method, route template (never the concrete
//! path, which holds ids) and status, with its latency.

use std::sync::Arc;
use std::time::Instant;

use application::metrics::Metrics;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;

/// Wraps every route of `router`; call it after the routes are added.
pub fn track_http(router: Router, metrics: Arc<Metrics>) -> Router {
    router.layer(middleware::from_fn_with_state(metrics, record))
}

async fn record(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = bounded(request.method());
    let began = Instant::now();
    let response = next.run(request).await;
    metrics
        .http_requests
        .with_label_values(&[method, &route, response.status().as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method, &route])
        .observe(began.elapsed().as_secs_f64());
    response
}

/// The standard methods by name; anything else (extension methods are
/// unbounded) as `other`.
fn bounded(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
