//! Who calls: the actor every command is issued as. An authentication layer
//! puts the authenticated [`Caller`] in the request's extensions; without
//! one, callers are the anonymous `api` actor with no roles (so approvals
//! that name approvers are refused).

use std::convert::Infallible;

use application::Origin;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use domain::instance::Actor;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub id: String,
    pub roles: Vec<String>,
}

impl Default for Caller {
    fn default() -> Self {
        Self {
            id: "api".to_owned(),
            roles: Vec::new(),
        }
    }
}

impl Caller {
    /// The origin of the events its commands cause.
    pub fn origin(&self) -> Origin {
        Origin::actor(self.id.clone())
    }

    /// As the domain checks it against a step's `approvers`.
    /// The decider an approval is checked with: `user:NAME` approvers name
    /// a bearer token's subject (the caller id without its `jwt:` scheme).
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id.strip_prefix("jwt:").unwrap_or(&self.id).to_owned(),
            roles: self.roles.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        // A caller set by an in-process layer wins (tests act as one); else
        // the authenticated principal the guard put there (an anonymous
        // admin on a node that runs open).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        Ok(parts
            .extensions
            .get::<application::auth::Principal>()
            .map(Caller::from)
            .unwrap_or_default())
    }
}

impl From<&application::auth::Principal> for Caller {
    /// The authenticated caller with every role it holds.
    fn from(principal: &application::auth::Principal) -> Self {
        Caller {
            id: principal.id.clone(),
            roles: principal.roles.clone(),
        }
    }
}
