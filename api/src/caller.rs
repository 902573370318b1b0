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
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.id.clone(),
            roles: self.roles.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}
