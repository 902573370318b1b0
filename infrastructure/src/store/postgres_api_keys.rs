//! API keys in PostgreSQL.

use application::Error;
use application::ports::{ApiKeyRecord, ApiKeyStore};
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{PgEventStore, database, unreadable};

fn record(row: &sqlx::postgres::PgRow) -> Result<ApiKeyRecord, Error> {
    let role: String = row.try_get("role").map_err(database)?;
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(database)?,
        name: row.try_get("name").map_err(database)?,
        role: role
            .parse()
            .map_err(|reason: String| unreadable("api_keys.role", reason))?,
        secret_sha256: row.try_get("secret_sha256").map_err(database)?,
        created_at: row.try_get("created_at").map_err(database)?,
        revoked_at: row.try_get("revoked_at").map_err(database)?,
    })
}

impl ApiKeyStore for PgEventStore {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), Error> {
        sqlx::query(
            "insert into api_keys (id, name, role, secret_sha256, created_at, revoked_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(&key.secret_sha256)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(self.pool())
        .await
        .map_err(database)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error> {
        let row = sqlx::query("select * from api_keys where id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(database)?;
        row.as_ref().map(record).transpose()
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, Error> {
        let rows = sqlx::query("select * from api_keys order by created_at, id")
            .fetch_all(self.pool())
            .await
            .map_err(database)?;
        rows.iter().map(record).collect()
    }

    async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        let revoked =
            sqlx::query("update api_keys set revoked_at = $2 where id = $1 and revoked_at is null")
                .bind(id)
                .bind(at)
                .execute(self.pool())
                .await
                .map_err(database)?;
        if revoked.rows_affected() == 0 {
            return Err(Error::NotFound {
                what: format!("active API key {id}"),
            });
        }
        Ok(())
    }
}
