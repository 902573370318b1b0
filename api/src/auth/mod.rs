//! Authentication and authorisation as one layer: the caller is found from
//! an API key or a JWT (`Authorization: Bearer ...`, or `X-API-Key`; on the
//! SSE routes also `?access_token=`), the route's permission comes from
//! [`routes::ROUTES`], then the caller's rate limit is taken. Handlers get
//! the caller with the [`crate::Caller`] extractor.

mod jwt;
pub mod routes;

use std::sync::Arc;

use application::auth::{KeyVerifier, Permission, Principal, is_api_key};
use axum::extract::Query;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use jwt::{DEFAULT_ROLES_CLAIM, JwtVerifier};

use crate::ApiError;
use crate::limits::RateLimiter;

/// How callers prove who they are.
#[derive(Clone, Default)]
pub enum Authentication {
    /// No authentication: every caller is `anonymous` with every permission.
    #[default]
    Open,
    Required {
        keys: Option<Arc<dyn KeyVerifier>>,
        jwt: Option<Arc<JwtVerifier>>,
    },
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Authentication::Open => f.write_str("Open"),
            Authentication::Required { keys, jwt } => f
                .debug_struct("Required")
                .field("api_keys", &keys.is_some())
                .field("jwt", jwt)
                .finish(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Guard {
    pub authentication: Authentication,
    pub limiter: RateLimiter,
}

/// The routes that also take the credential as `?access_token=`: a
/// browser's `EventSource` cannot set headers. Elsewhere a token in a URL
/// would only end up in logs and histories.
pub const QUERY_TOKEN_ROUTES: &[&str] = &["/api/v1/events/stream", "/api/v1/workflows/{id}/stream"];

/// The credential a request presents in its headers, if any.
fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(key) = headers.get("x-api-key") {
        return key.to_str().ok().map(str::to_owned);
    }
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let (scheme, value) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| value.trim().to_owned())
}

#[derive(serde::Deserialize)]
struct AccessToken {
    access_token: Option<String>,
}

/// `?access_token=`, on the routes that take it; headers win over it.
fn query_credential(uri: &Uri, route: &str) -> Option<String> {
    if !QUERY_TOKEN_ROUTES.contains(&route) {
        return None;
    }
    Query::<AccessToken>::try_from_uri(uri)
        .ok()
        .and_then(|Query(query)| query.access_token)
}

impl Guard {
    /// `Ok(None)` when no credential was presented.
    async fn caller(&self, presented: Option<String>) -> Result<Option<Principal>, ApiError> {
        let Authentication::Required { .. } = &self.authentication else {
            return Ok(Some(Principal::anonymous()));
        };
        let Some(presented) = presented else {
            return Ok(None);
        };
        self.verify(&presented).await.map(Some)
    }

    /// The caller a credential stands for (an API key or a JWT); anonymous
    /// on a node that runs open.
    pub(crate) async fn verify(&self, presented: &str) -> Result<Principal, ApiError> {
        let Authentication::Required { keys, jwt } = &self.authentication else {
            return Ok(Principal::anonymous());
        };
        let found = match (is_api_key(presented), keys, jwt) {
            (true, Some(keys), _) => keys.verify(presented).await?,
            (false, _, Some(jwt)) => jwt.verify(presented),
            _ => None,
        };
        found.ok_or_else(|| ApiError::Unauthorized("the credential is not valid".into()))
    }

    /// Takes a token from the caller's rate limit.
    pub(crate) fn admit(&self, caller: &Principal) -> Result<(), ApiError> {
        // Limits are per key: a node that runs open has no keys, and one
        // bucket shared by every anonymous client would throttle them all.
        if caller.id == Principal::anonymous().id {
            return Ok(());
        }
        self.limiter
            .take(&caller.id)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })
    }
}

/// Why `caller` may not `what`: the roles it holds and the permission
/// none of them grants.
pub(crate) fn refusal(caller: &Principal, required: Permission, what: &str) -> String {
    let held = match caller.roles.as_slice() {
        [] => "no role".to_owned(),
        roles => format!("the roles {}", roles.join(", ")),
    };
    format!(
        "a caller with {held} may not {what} (it needs `{}`)",
        required.as_str()
    )
}

/// The layer: 401 without a valid credential, 403 without the permission,
/// 429 over the rate limit; otherwise the caller rides along to the handler.
pub(crate) async fn guard(
    State(guard): State<Arc<Guard>>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = matched.as_ref().map_or("", MatchedPath::as_str);
    let required = routes::required(request.method(), route);
    let presented =
        credential(request.headers()).or_else(|| query_credential(request.uri(), route));
    let caller = match guard.caller(presented).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    match caller {
        None if required == Permission::Public => {}
        None => {
            return ApiError::Unauthorized("an API key or a bearer token is required".into())
                .into_response();
        }
        Some(caller) => {
            if !caller.allows(required) {
                return ApiError::Forbidden(refusal(&caller, required, "do this")).into_response();
            }
            if let Err(refused) = guard.admit(&caller) {
                return refused.into_response();
            }
            request.extensions_mut().insert(caller);
        }
    }
    next.run(request).await
}
