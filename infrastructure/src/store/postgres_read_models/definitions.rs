//! Stored definitions and the idempotency keys of starts (PostgreSQL).

use application::Error;
use application::ports::{DefinitionStore, IdempotencyKeys, StoredDefinition};
use domain::InstanceId;
use sqlx::Row;

use crate::store::database;
use crate::store::read_model_rows::{DEFINITIONS, DefinitionColumns};

use super::PgReadModels;

impl DefinitionStore for PgReadModels {
    async fn save_definition(&self, definition: &StoredDefinition) -> Result<String, Error> {
        // Inserted, or already there: the hash stored under the name and version.
        let hash: String = sqlx::query_scalar(
            "with inserted as (
                 insert into definitions (name, version, hash, description, source, created_at)
                 values ($1, $2, $3, $4, $5, $6) on conflict (name, version) do nothing
                 returning hash
             )
             select hash from inserted
             union all select hash from definitions where name = $1 and version = $2
             limit 1",
        )
        .bind(&definition.name)
        .bind(definition.version as i32)
        .bind(&definition.hash)
        .bind(&definition.description)
        .bind(&definition.source)
        .bind(definition.created_at)
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

impl IdempotencyKeys for PgReadModels {
    async fn claim_key(
        &self,
        key: &str,
        instance: InstanceId,
        fingerprint: &str,
    ) -> Result<(InstanceId, String), Error> {
        let row = sqlx::query(
            "with inserted as (
                 insert into idempotency_keys (key, instance_id, fingerprint) values ($1, $2, $3)
                 on conflict (key) do nothing returning instance_id, fingerprint
             )
             select instance_id, fingerprint from inserted
             union all select instance_id, fingerprint from idempotency_keys where key = $1
             limit 1",
        )
        .bind(key)
        .bind(instance.0)
        .bind(fingerprint)
        .fetch_one(&self.pool)
        .await
        .map_err(database)?;
        Ok((
            InstanceId(row.try_get("instance_id").map_err(database)?),
            row.try_get("fingerprint").map_err(database)?,
        ))
    }

    async fn release_key(&self, key: &str) -> Result<(), Error> {
        sqlx::query("delete from idempotency_keys where key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(database)?;
        Ok(())
    }
}
