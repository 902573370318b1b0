//! API keys in PostgreSQL.

use application::Error;
use application::ports::{ApiKeyRecord, ApiKeyStore};
use chrono::{DateTime, Utc};

use super::api_key_rows::{ApiKeyRow, roles_column};
use super::{PgEventStore, database};

impl ApiKeyStore for PgEventStore {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), Error> {
        sqlx::query(
            "insert into api_keys (id, name, roles, secret_sha256, created_at, revoked_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(roles_column(key))
        .bind(&key.secret_sha256)
        .bind(key.created_at)
        .bind(key.revoked_at)
        .execute(self.pool())
        .await
        .map_err(database)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error> {
        let row: Option<ApiKeyRow> = sqlx::query_as("select * from api_keys where id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(database)?;
        row.map(ApiKeyRecord::try_from).transpose()
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, Error> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as("select * from api_keys order by created_at, id")
            .fetch_all(self.pool())
            .await
            .map_err(database)?;
        rows.into_iter().map(ApiKeyRecord::try_from).collect()
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
