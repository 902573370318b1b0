//! What keeps web pages off an open node. A page the operator's browser
//! visits may send requests to `127.0.0.1`: a form's content types pass
//! without a CORS preflight, and a name the page controls may resolve to
//! loopback (DNS rebinding). On an open node (no credential to steal, none
//! needed) such a request would run as the node's `anonymous` admin. So an
//! open node answers only to the host names it should be reached by, and
//! refuses mutations in a form's content types or from another origin than
//! its own, unless an allow-list names that origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Content types a form (or a `no-cors` fetch) sends without a preflight.
const FORM_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// The checks of an open node; none on a node that authenticates (a
/// browser does not send its bearer tokens by itself).
#[derive(Clone, Debug, Default)]
pub struct BrowserPolicy {
    /// Whether to check at all: the node is open.
    pub open: bool,
    /// Whether `Host` must be a loopback name (the node listens on
    /// loopback) or one of `allowed_hosts`. Off behind `--insecure`, where
    /// the proxy in front is reached by its own name.
    pub check_host: bool,
    /// Host names an open node also answers to (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) whose pages may send mutations
    /// (`--allowed-origin`).
    pub allowed_origins: Vec<String>,
}

/// The middleware.
pub(crate) async fn guard(
    State(policy): State<Arc<BrowserPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    match policy.check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

impl BrowserPolicy {
    fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        if !self.open {
            return Ok(());
        }
        let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
        let host = text(header::HOST).unwrap_or_default();
        let name = host_name(host);
        if self.check_host
            && !is_loopback(name)
            && !self
                .allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name))
        {
            return Err(ApiError::Forbidden(format!(
                "this open node answers to loopback names only (or to --allowed-host), not to `{host}`"
            )));
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        if let Some(origin) = text(header::ORIGIN) {
            let same = origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host));
            if !same && !self.allowed_origins.iter().any(|allowed| allowed == origin) {
                return Err(ApiError::Forbidden(format!(
                    "an open node refuses changes from pages of another origin (`{origin}`) unless --allowed-origin names it"
                )));
            }
        }
        if let Some(content_type) = text(header::CONTENT_TYPE) {
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if FORM_CONTENT_TYPES
                .iter()
                .any(|form| form.eq_ignore_ascii_case(essence))
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "an open node refuses changes sent as `{essence}`, which a web page can send to it unasked; send JSON or YAML"
                )));
            }
        }
        Ok(())
    }
}

/// `host` without its port.
fn host_name(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_loopback(name: &str) -> bool {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(policy: &BrowserPolicy, method: Method, headers: &[(&str, &str)]) -> Option<u16> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        policy
            .check(&method, &map)
            .err()
            .map(|error| error.into_response().status().as_u16())
    }

    #[test]
    fn an_open_node_refuses_what_a_web_page_can_send_it() {
        let open = BrowserPolicy {
            open: true,
            check_host: true,
            allowed_hosts: vec!["distorch.internal".into()],
            allowed_origins: vec!["https://tools.example".into()],
        };
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(
            check(
                &open,
                Method::POST,
                &[host, ("content-type", "application/json")]
            ),
            None
        );
        assert_eq!(
            check(
                &open,
                Method::POST,
                &[host, ("content-type", "text/plain;charset=UTF-8")]
            ),
            Some(415)
        );
        assert_eq!(
            check(
                &open,
                Method::POST,
                &[host, ("origin", "http://127.0.0.1:8080")]
            ),
            None
        );
        assert_eq!(
            check(
                &open,
                Method::POST,
                &[host, ("origin", "https://evil.example")]
            ),
            Some(403)
        );
        assert_eq!(
            check(
                &open,
                Method::POST,
                &[host, ("origin", "https://tools.example")]
            ),
            None
        );
        assert_eq!(
            check(&open, Method::GET, &[("host", "evil.example:8080")]),
            Some(403)
        );
        assert_eq!(check(&open, Method::GET, &[("host", "[::1]:8080")]), None);
        assert_eq!(
            check(&open, Method::GET, &[("host", "distorch.internal")]),
            None
        );
        let closed = BrowserPolicy::default();
        assert_eq!(
            check(
                &closed,
                Method::POST,
                &[("host", "evil.example"), ("content-type", "text/plain")]
            ),
            None
        );
    }
}
