//! Where API keys are kept: only their SHA-256 digest, never the secret.

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public and unique: the lookup key, and the key's name in the log.
    pub id: String,
    pub name: String,
    /// Permission roles and business roles, each a checked role name.
    pub roles: Vec<String>,
    /// SHA-256 of the key's secret part.
    pub secret_sha256: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub trait ApiKeyStore: Send + Sync {
    fn insert(&self, key: &ApiKeyRecord) -> impl Future<Output = Result<(), Error>> + Send;

    fn find(&self, id: &str) -> impl Future<Output = Result<Option<ApiKeyRecord>, Error>> + Send;

    /// Every key, revoked ones too, oldest first.
    fn list(&self) -> impl Future<Output = Result<Vec<ApiKeyRecord>, Error>> + Send;

    /// Marks a key revoked; [`Error::NotFound`] for an unknown or already
    /// revoked key.
    fn revoke(&self, id: &str, at: DateTime<Utc>)
    -> impl Future<Output = Result<(), Error>> + Send;
}
