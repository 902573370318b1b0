//! Stored definitions and the idempotency keys of starts (SQLite).

use application::Error;
use application::ports::{DefinitionStore, IdempotencyKeys, StoredDefinition};
use chrono::Utc;
use domain::InstanceId;
use sqlx::Row;
use uuid::Uuid;

use crate::store::read_model_rows::{DEFINITIONS, DefinitionColumns};
use crate::store::{database, unreadable};

use super::{SqliteReadModels, time};

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
        let sql = format!("{DEFINITIONS} order by name, version");
        let rows: Vec<DefinitionColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(rows.into_iter().map(StoredDefinition::from).collect())
    }

    async fn definition(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<StoredDefinition>, Error> {
        let sql = format!("{DEFINITIONS} where name = $1 and version = $2");
        let row: Option<DefinitionColumns> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .bind(version as i32)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        Ok(row.map(StoredDefinition::from))
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
