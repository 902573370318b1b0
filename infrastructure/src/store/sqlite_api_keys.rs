//! API keys in the embedded SQLite file.

use application::Error;
use application::ports::{ApiKeyRecord, ApiKeyStore};
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteEventStore, database, unreadable};

fn time(text: Option<String>) -> Result<Option<DateTime<Utc>>, Error> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|error| unreadable(format!("api_keys time `{text}`"), error))
    })
    .transpose()
}

fn record(row: &sqlx::sqlite::SqliteRow) -> Result<ApiKeyRecord, Error> {
    let role: String = row.try_get("role").map_err(database)?;
    let created_at: String = row.try_get("created_at").map_err(database)?;
    Ok(ApiKeyRecord {
        id: row.try_get("id").map_err(database)?,
        name: row.try_get("name").map_err(database)?,
        role: role
            .parse()
            .map_err(|reason: String| unreadable("api_keys.role", reason))?,
        secret_sha256: row.try_get("secret_sha256").map_err(database)?,
        created_at: time(Some(created_at))?.unwrap_or_default(),
        revoked_at: time(row.try_get("revoked_at").map_err(database)?)?,
    })
}

impl ApiKeyStore for SqliteEventStore {
    async fn insert(&self, key: &ApiKeyRecord) -> Result<(), Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(
            "insert into api_keys (id, name, role, secret_sha256, created_at, revoked_at)
             values (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(key.role.as_str())
        .bind(&key.secret_sha256)
        .bind(key.created_at.to_rfc3339())
        .bind(key.revoked_at.map(|at| at.to_rfc3339()))
        .execute(self.pool())
        .await
        .map_err(database)?;
        Ok(())
    }

    async fn find(&self, id: &str) -> Result<Option<ApiKeyRecord>, Error> {
        let row = sqlx::query("select * from api_keys where id = ?1")
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
        let _writing = self.writer.lock().await;
        let revoked =
            sqlx::query("update api_keys set revoked_at = ?2 where id = ?1 and revoked_at is null")
                .bind(id)
                .bind(at.to_rfc3339())
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
