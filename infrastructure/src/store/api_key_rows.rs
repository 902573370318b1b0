//! An API key's row as both stores return it (sqlx reads SQLite's RFC 3339
//! text as it reads PostgreSQL's `timestamptz`), read into the record once.

use application::Error;
use application::ports::ApiKeyRecord;
use chrono::{DateTime, Utc};

use super::unreadable;

/// A key's roles as the `roles` column keeps them (role names hold no
/// spaces: `check_role_name`).
pub(super) fn roles_column(record: &ApiKeyRecord) -> String {
    record.roles.join(" ")
}

/// Every column of `api_keys`, as `select *` returns them.
#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    id: String,
    name: String,
    /// Space-separated role names.
    roles: String,
    secret_sha256: Vec<u8>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKeyRecord {
    type Error = Error;

    fn try_from(row: ApiKeyRow) -> Result<Self, Error> {
        if row.roles.trim().is_empty() {
            return Err(unreadable("api_keys.roles", "the key holds no role"));
        }
        Ok(ApiKeyRecord {
            roles: row.roles.split_whitespace().map(str::to_owned).collect(),
            id: row.id,
            name: row.name,
            secret_sha256: row.secret_sha256,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}
