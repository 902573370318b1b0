//! Limits that keep one caller from taking the node: a token bucket per
//! caller (429 with `Retry-After`), a bound on request bodies (413) and on
//! the time to produce a response (503). Streams are bounded by the feed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests per second each caller may sustain.
    pub requests_per_second: f64,
    /// Requests a caller may make at once after being idle.
    pub burst: u32,
    /// The largest request body, in bytes.
    pub body_bytes: usize,
    /// How long a request may take to answer (the head of a stream counts,
    /// not the stream).
    pub request_timeout: Duration,
}

/// Requests per second a caller may sustain by default: above what one node
/// serves, so a single client is held back by the node, never by the bucket
/// (docs/auth.md). An open node's anonymous caller is not limited at all.
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 1_000.0;
/// Requests a caller may make at once after being idle, by default.
pub const DEFAULT_BURST: u32 = 2_000;

impl Default for Limits {
    fn default() -> Self {
        Self {
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            burst: DEFAULT_BURST,
            body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Buckets kept before full (idle) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// One token bucket per caller id.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: &Limits) -> Self {
        Self {
            rate: limits.requests_per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(limits.burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `caller`, or says how long until one is there.
    pub fn take(&self, caller: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(caller) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

/// Answers 503 when the handler has not produced a response in time.
pub(crate) async fn timeout(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}
