//! Stored definitions and the idempotency keys of starts (SQLite).

use application::Error;
use application::ports::{DefinitionStore, IdempotencyKeys, StoredDefinition};
use chrono::Utc;
use domain::InstanceId;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::store::{database, unreadable};

use super::queries::{parse_time, required};
use super::{SqliteReadModels, time};

fn stored_definition(row: &SqliteRow) -> Result<StoredDefinition, sqlx::Error> {
    Ok(StoredDefinition {
        name: row.try_get("name")?,
        version: row.try_get::<i64, _>("version")? as u32,
        hash: row.try_get("hash")?,
        description: row.try_get("description")?,
        source: row.try_get("source")?,
        created_at: required(parse_time(row.try_get("created_at")?)?, "created_at")?,
    })
}

impl DefinitionStore for SqliteReadModels {
    async fn save_definition(&self, definition: &StoredDefinition) -> Result<String, Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(
            "insert into definitions (name, version, hash, description, source, created_at)
             values (?1, ?2, ?3, ?4, ?5, ?6) on conflict (name, version) do nothing",
        )
        .bind(&definition.name)
        .bind(i64::from(definition.version))
        .bind(&definition.hash)
        .bind(&definition.description)
        .bind(&definition.source)
        .bind(time(definition.created_at))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        let hash: String =
            sqlx::query_scalar("select hash from definitions where name = ?1 and version = ?2")
                .bind(&definition.name)
                .bind(i64::from(definition.version))
                .fetch_one(&self.pool)
                .await
                .map_err(database)?;
        Ok(hash)
    }

    async fn definitions(&self) -> Result<Vec<StoredDefinition>, Error> {
        let rows = sqlx::query(
            "select name, version, hash, description, source, created_at from definitions
             order by name, version",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(stored_definition)
            .collect::<Result<_, _>>()
            .map_err(database)
    }

    async fn definition(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<StoredDefinition>, Error> {
        let row = sqlx::query(
            "select name, version, hash, description, source, created_at from definitions
             where name = ?1 and version = ?2",
        )
        .bind(name)
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await
        .map_err(database)?;
        row.as_ref()
            .map(stored_definition)
            .transpose()
            .map_err(database)
    }
}

impl IdempotencyKeys for SqliteReadModels {
    async fn claim_key(
        &self,
        key: &str,
        instance: InstanceId,
        fingerprint: &str,
    ) -> Result<(InstanceId, String), Error> {
        let _writing = self.writer.lock().await;
        sqlx::query(
            "insert into idempotency_keys (key, instance_id, fingerprint, created_at)
             values (?1, ?2, ?3, ?4) on conflict (key) do nothing",
        )
        .bind(key)
        .bind(instance.0.to_string())
        .bind(fingerprint)
        .bind(time(Utc::now()))
        .execute(&self.pool)
        .await
        .map_err(database)?;
        let row =
            sqlx::query("select instance_id, fingerprint from idempotency_keys where key = ?1")
                .bind(key)
                .fetch_one(&self.pool)
                .await
                .map_err(database)?;
        let id: String = row.try_get("instance_id").map_err(database)?;
        Ok((
            InstanceId(
                Uuid::parse_str(&id)
                    .map_err(|error| unreadable("idempotency_keys.instance_id", error))?,
            ),
            row.try_get("fingerprint").map_err(database)?,
        ))
    }

    async fn release_key(&self, key: &str) -> Result<(), Error> {
        let _writing = self.writer.lock().await;
        sqlx::query("delete from idempotency_keys where key = ?1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(database)?;
        Ok(())
    }
}
