//! The HTTP executor: runs the built-in `http` steps (queue `http`). A task's
//! input is the rendered request `{method?, url, headers?, body?}`; the
//! output of a 2xx response is `{status, headers, body}`.
//!
//! - `${ secrets.NAME }` references are resolved first, from the
//!   environment (`DISTORCH_SECRET_NAME`) unless another lookup is given; a
//!   missing secret fails the task for good. Resolved values never appear in
//!   an error message: messages name the URL as rendered, before resolution.
//! - `method` defaults to GET; `headers` is an object of strings (numbers and
//!   booleans are sent as their JSON text, `null` leaves the header out);
//!   a string `body` is sent as text (`text/plain; charset=utf-8`), any
//!   other JSON value as JSON (`application/json`), unless the request sets
//!   its own `Content-Type`; a `null` or absent body sends none.
//! - `Idempotency-Key` always carries the task's idempotency key (it replaces
//!   one given in `headers`), stable across retries and redeliveries.
//! - `traceparent` carries the task's trace context (W3C), the executing
//!   span as its parent; it replaces one given in `headers`.
//! - The whole exchange (connect, send, read the response) must end by the
//!   task's deadline, or within a default timeout when it has none.
//! - Outcomes: 2xx completes; 5xx, 408 and 429 fail retryably, any other
//!   status for good (`HTTP <status>: <first 500 chars of the body>`);
//!   transport errors and timeouts fail retryably; an invalid request (bad
//!   URL, unknown method, bad header) and a redirect loop fail for good.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use application::loops::{Executor, traceparent_for_call};
use application::messages::{TaskMessage, TaskOutcome};
use application::secrets;
use application::trace::TRACEPARENT;
use domain::instance::StepError;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Method, Response, StatusCode, Url};
use serde_json::{Map, Value, json};

/// Timeout of a request whose task has no deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read; a larger 2xx body fails the task for good.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// How much of an error response's body its failure message quotes.
const ERROR_BODY_CHARS: usize = 500;
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Looks a secret up by its name (`api_token` for `${ secrets.api_token }`).
pub type SecretLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct HttpExecutor {
    client: Client,
    default_timeout: Duration,
    max_body_bytes: usize,
    secrets: SecretLookup,
}

impl std::fmt::Debug for HttpExecutor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HttpExecutor")
            .field("default_timeout", &self.default_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpExecutor {
    /// A client with rustls and the platform's certificate verifier; fails
    /// only when the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = Client::builder()
            .user_agent(concat!("distorch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self::with_client(client))
    }

    /// Uses `client` as it is (its own timeouts, proxies, TLS settings).
    pub fn with_client(client: Client) -> Self {
        Self {
            client,
            default_timeout: DEFAULT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            secrets: Arc::new(secrets::from_environment),
        }
    }

    /// The timeout of a request whose task has no deadline.
    pub fn with_default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// The largest response body read (see [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Resolves `${ secrets.NAME }` with `lookup` instead of the environment.
    pub fn with_secrets(mut self, lookup: SecretLookup) -> Self {
        self.secrets = lookup;
        self
    }

    async fn run(&self, task: &TaskMessage) -> Result<Value, StepError> {
        let lookup = |name: &str| (self.secrets)(name);
        let input =
            secrets::resolve(&task.input, &task.secrets, &lookup).map_err(StepError::permanent)?;
        // The URL as rendered, secrets unresolved: safe to put in an event.
        let shown_url = task
            .input
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("(no url)");
        let request = Request::parse(&input, shown_url)?;
        let timeout = match task.deadline {
            None => self.default_timeout,
            Some(deadline) => (deadline - chrono::Utc::now()).to_std().map_err(|_| {
                StepError::retryable(format!(
                    "the task's deadline ({deadline}) passed before {} {shown_url} was sent",
                    request.method
                ))
            })?,
        };
        let mut builder = self
            .client
            .request(request.method.clone(), request.url)
            .headers(request.headers)
            .header(IDEMPOTENCY_KEY, idempotency_key(&task.idempotency_key)?)
            .timeout(timeout);
        if let Some(parent) = traceparent_for_call(task) {
            let mut trace = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&parent.to_string()) {
                trace.insert(TRACEPARENT, value);
            }
            // `headers` replaces a `traceparent` the request set itself.
            builder = builder.headers(trace);
        }
        builder = match request.body {
            Body::None => builder,
            Body::Text(text) => {
                let builder = if request.has_content_type {
                    builder
                } else {
                    builder.header(CONTENT_TYPE, "text/plain; charset=utf-8")
                };
                builder.body(text)
            }
            Body::Json(value) => builder.json(&value),
        };
        let what = format!("{} {shown_url}", request.method);
        let mut response = builder
            .send()
            .await
            .map_err(|error| transport_error(&what, timeout, error))?;
        let status = response.status();
        let headers = header_object(response.headers());
        let is_json = is_json(response.headers());
        let limit = if status.is_success() {
            self.max_body_bytes
        } else {
            // Only the start of an error's body is quoted.
            self.max_body_bytes.min(ERROR_BODY_CHARS * 4)
        };
        let (bytes, truncated) = read_body(&mut response, limit)
            .await
            .map_err(|error| transport_error(&what, timeout, error))?;
        if !status.is_success() {
            return Err(status_error(status, &bytes));
        }
        if truncated {
            return Err(StepError::permanent(format!(
                "{what}: HTTP {}: the response body is larger than {} bytes",
                status.as_u16(),
                self.max_body_bytes
            )));
        }
        Ok(json!({
            "status": status.as_u16(),
            "headers": headers,
            "body": body_value(&bytes, is_json),
        }))
    }
}

impl Executor for HttpExecutor {
    async fn execute(&self, task: &TaskMessage) -> TaskOutcome {
        match self.run(task).await {
            Ok(output) => TaskOutcome::Completed { output },
            Err(error) => TaskOutcome::Failed { error },
        }
    }
}

/// A task's input, checked.
#[derive(Debug)]
struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    has_content_type: bool,
    body: Body,
}

#[derive(Debug)]
enum Body {
    None,
    Text(String),
    Json(Value),
}

impl Request {
    /// Every problem found here is permanent: the same input fails again.
    fn parse(input: &Value, shown_url: &str) -> Result<Self, StepError> {
        let invalid =
            |reason: String| StepError::permanent(format!("invalid HTTP request: {reason}"));
        let Value::Object(fields) = input else {
            return Err(invalid(
                "the input must be an object {method?, url, headers?, body?}".into(),
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|key| !matches!(key.as_str(), "method" | "url" | "headers" | "body"))
        {
            return Err(invalid(format!(
                "unknown field `{unknown}` (expected method, url, headers, body)"
            )));
        }
        let method = match fields.get("method") {
            None | Some(Value::Null) => Method::GET,
            Some(Value::String(name)) => match name.to_ascii_uppercase().as_str() {
                "GET" => Method::GET,
                "POST" => Method::POST,
                "PUT" => Method::PUT,
                "PATCH" => Method::PATCH,
                "DELETE" => Method::DELETE,
                "HEAD" => Method::HEAD,
                _ => {
                    return Err(invalid(format!(
                        "unknown method `{name}` (expected GET, POST, PUT, PATCH, DELETE or HEAD)"
                    )));
                }
            },
            Some(other) => {
                return Err(invalid(format!("`method` must be a string, not {other}")));
            }
        };
        let url = match fields.get("url") {
            Some(Value::String(url)) => Url::parse(url)
                .map_err(|error| invalid(format!("bad URL `{shown_url}`: {error}")))?,
            Some(_) => return Err(invalid("`url` must be a string".into())),
            None => return Err(invalid("`url` is missing".into())),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "bad URL `{shown_url}`: the scheme must be http or https"
            )));
        }
        let mut headers = HeaderMap::new();
        match fields.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(entries)) => {
                for (name, value) in entries {
                    let text = match value {
                        Value::Null => continue,
                        Value::String(text) => text.clone(),
                        Value::Number(_) | Value::Bool(_) => value.to_string(),
                        Value::Array(_) | Value::Object(_) => {
                            return Err(invalid(format!("header `{name}` must be a string")));
                        }
                    };
                    let header = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| invalid(format!("bad header name `{name}`")))?;
                    // The value may hold a resolved secret: never quote it.
                    let value = HeaderValue::from_str(&text)
                        .map_err(|_| invalid(format!("bad value for header `{name}`")))?;
                    headers.append(header, value);
                }
            }
            Some(_) => return Err(invalid("`headers` must be an object".into())),
        }
        let has_content_type = headers.contains_key(CONTENT_TYPE);
        let body = match fields.get("body") {
            None | Some(Value::Null) => Body::None,
            Some(Value::String(text)) => Body::Text(text.clone()),
            Some(value) => Body::Json(value.clone()),
        };
        Ok(Self {
            method,
            url,
            headers,
            has_content_type,
            body,
        })
    }
}

fn idempotency_key(key: &str) -> Result<HeaderValue, StepError> {
    HeaderValue::from_str(key).map_err(|_| {
        StepError::permanent(format!(
            "invalid HTTP request: the idempotency key `{key}` is not a valid header value"
        ))
    })
}

/// A failure before a complete response: retryable, except a request that
/// cannot be built or a redirect loop (the same request fails again).
fn transport_error(what: &str, timeout: Duration, error: reqwest::Error) -> StepError {
    // The URL may hold a resolved secret: `what` names it unresolved.
    let error = error.without_url();
    if error.is_timeout() {
        return StepError::retryable(format!("{what}: timed out after {timeout:.1?}"));
    }
    let mut message = format!("{what}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let _ = write!(message, ": {cause}");
        source = cause.source();
    }
    StepError {
        message,
        retryable: !(error.is_builder() || error.is_redirect()),
    }
}

/// A complete response whose status is not 2xx.
fn status_error(status: StatusCode, body: &[u8]) -> StepError {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        let quoted: String = text.chars().take(ERROR_BODY_CHARS).collect();
        format!("HTTP {}: {quoted}", status.as_u16())
    };
    let retryable = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    StepError { message, retryable }
}

/// Reads at most `limit` bytes of the body; `true` when there was more.
async fn read_body(
    response: &mut Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > limit {
            let room = limit - bytes.len();
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, true));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, false))
}

/// Lowercase names to values; repeated headers are joined with `, `.
fn header_object(headers: &HeaderMap) -> Map<String, Value> {
    let mut object = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        object.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    object
}

/// `application/json` or any `+json` media type (`application/problem+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type == "application/json" || media_type.ends_with("+json")
}

/// JSON when declared so and it parses, else text; `null` when empty.
fn body_value(bytes: &[u8], is_json: bool) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    if is_json && let Ok(value) = serde_json::from_slice(bytes) {
        return value;
    }
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retryable_or_permanent_failures() {
        let retryable =
            |code: u16| status_error(StatusCode::from_u16(code).unwrap(), b"").retryable;
        assert!(retryable(500) && retryable(503) && retryable(408) && retryable(429));
        assert!(!retryable(400) && !retryable(404) && !retryable(409) && !retryable(304));
        let long = "é".repeat(600);
        let message = status_error(StatusCode::BAD_REQUEST, long.as_bytes()).message;
        assert_eq!(message, format!("HTTP 400: {}", "é".repeat(500)));
        assert_eq!(
            status_error(StatusCode::NOT_FOUND, b" \n").message,
            "HTTP 404"
        );
    }

    #[test]
    fn json_bodies_are_parsed_when_declared() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json; charset=utf-8"),
        );
        assert!(is_json(&headers));
        assert_eq!(body_value(br#"{"a":1}"#, true), json!({"a": 1}));
        assert_eq!(body_value(br#"{"a":1}"#, false), json!(r#"{"a":1}"#));
        assert_eq!(body_value(b"not json", true), json!("not json"));
        assert_eq!(body_value(b"", true), Value::Null);
    }

    #[test]
    fn invalid_requests_are_permanent() {
        for input in [
            json!("GET http://x"),
            json!({"url": "not a url"}),
            json!({"url": "ftp://example.com/"}),
            json!({"url": "http://example.com/", "method": "BREW"}),
            json!({"url": "http://example.com/", "headers": {"bad name": "x"}}),
            json!({"url": "http://example.com/", "headers": {"x": ["a"]}}),
            json!({"url": "http://example.com/", "timeout": 3}),
            json!({"method": "GET"}),
        ] {
            let error = Request::parse(&input, "shown").unwrap_err();
            assert!(!error.retryable, "{input}: {error:?}");
        }
        let request = Request::parse(
            &json!({"url": "http://example.com/", "method": "post", "headers": {"X-N": 3, "X-Null": null}}),
            "shown",
        )
        .unwrap();
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.headers.get("x-n").unwrap(), "3");
        assert!(!request.headers.contains_key("x-null"));
    }
}
