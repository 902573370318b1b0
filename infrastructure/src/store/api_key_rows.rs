//! An API key's row as both stores return it (sqlx reads SQLite's RFC 3339
//! text as it reads PostgreSQL's `timestamptz`), read into the record once.

use application::Error;
use application::ports::ApiKeyRecord;
use chrono::{DateTime, Utc};

use super::unreadable;

/// Every column of `api_keys`, as `select *` returns them.
#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    id: String,
    name: String,
    role: String,
    secret_sha256: Vec<u8>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKeyRecord {
    type Error = Error;

    fn try_from(row: ApiKeyRow) -> Result<Self, Error> {
        Ok(ApiKeyRecord {
            role: row
                .role
                .parse()
                .map_err(|reason: String| unreadable("api_keys.role", reason))?,
            id: row.id,
            name: row.name,
            secret_sha256: row.secret_sha256,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}
