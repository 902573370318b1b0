//! API keys: `dtk_<id>_<secret>`, with a 64-bit random public id to look the
//! key up by and a 256-bit random secret stored only as its SHA-256 digest.
//! A slow password hash (argon2) would guard low-entropy secrets; a 256-bit
//! random secret cannot be guessed from its digest, so one fast SHA-256 per
//! request suffices and keeps authentication off the request's critical path.

use std::future::Future;
use std::pin::Pin;

use sha2::{Digest, Sha256};

use super::{Permission, Principal, Role, check_role_name, grants};
use crate::Error;
use crate::clock::Clock;
use crate::ports::{ApiKeyRecord, ApiKeyStore};

const PREFIX: &str = "dtk_";

/// A key just created: the only time its full text exists.
#[derive(Clone, Debug)]
pub struct IssuedKey {
    pub record: ApiKeyRecord,
    /// `dtk_<id>_<secret>`: shown once, never stored.
    pub key: String,
}

#[derive(Debug)]
pub struct ApiKeys<K> {
    store: K,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn random_hex<const N: usize>() -> Result<String, Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::unavailable(format!("no randomness: {error}")))?;
    Ok(hex(&bytes))
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether a presented credential looks like one of our API keys (a JWT
/// never starts so).
pub fn is_api_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

impl<K: ApiKeyStore> ApiKeys<K> {
    pub fn new(store: K) -> Self {
        Self { store }
    }

    /// A key holding `roles`: at least one of them a permission role (a
    /// key with only business roles could do nothing).
    pub async fn create(
        &self,
        roles: &[impl AsRef<str>],
        name: &str,
        clock: &dyn Clock,
    ) -> Result<IssuedKey, Error> {
        let roles = checked_roles(roles)?;
        let id = random_hex::<8>()?;
        let secret = random_hex::<32>()?;
        let record = ApiKeyRecord {
            id: id.clone(),
            name: name.to_owned(),
            roles,
            secret_sha256: digest(&secret),
            created_at: clock.now(),
            revoked_at: None,
        };
        self.store.insert(&record).await?;
        Ok(IssuedKey {
            record,
            key: format!("{PREFIX}{id}_{secret}"),
        })
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, Error> {
        self.store.list().await
    }

    pub async fn revoke(&self, id: &str, clock: &dyn Clock) -> Result<(), Error> {
        self.store.revoke(id, clock.now()).await
    }

    /// The caller a presented key stands for; `None` for a malformed,
    /// unknown, wrong or revoked key (all look alike to the caller).
    pub async fn verify(&self, presented: &str) -> Result<Option<Principal>, Error> {
        let Some((id, secret)) = presented
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        let Some(record) = self.store.find(id).await? else {
            return Ok(None);
        };
        // Digests are compared, not secrets: timing tells nothing usable.
        if record.revoked_at.is_some() || record.secret_sha256 != digest(secret) {
            return Ok(None);
        }
        Ok(Some(Principal {
            id: format!("apikey:{}", record.id),
            roles: record.roles,
        }))
    }
}

/// The roles of a new key, checked and without repeats.
fn checked_roles(roles: &[impl AsRef<str>]) -> Result<Vec<String>, Error> {
    let mut checked: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles.iter().map(AsRef::as_ref) {
        check_role_name(role).map_err(|reason| Error::Invalid { reason })?;
        if !checked.iter().any(|held| held == role) {
            checked.push(role.to_owned());
        }
    }
    if !grants(&checked, Permission::Read) {
        let names = Role::ALL.map(Role::as_str).join(", ");
        return Err(Error::Invalid {
            reason: format!(
                "a key needs one of the roles {names} (a business role such as `manager` \
                 only names who may decide an approval; deciding also needs `approver`)"
            ),
        });
    }
    Ok(checked)
}

type Verified<'a> = Pin<Box<dyn Future<Output = Result<Option<Principal>, Error>> + Send + 'a>>;

/// Key verification as a trait object, so the API holds it without knowing
/// the store behind it.
pub trait KeyVerifier: Send + Sync {
    fn verify<'a>(&'a self, presented: &'a str) -> Verified<'a>;
}

impl<K: ApiKeyStore> KeyVerifier for ApiKeys<K> {
    fn verify<'a>(&'a self, presented: &'a str) -> Verified<'a> {
        Box::pin(ApiKeys::verify(self, presented))
    }
}
