//! API keys: stored as a prefix (to find the row) and a SHA-256 (to check it).

use super::{MetaDb, read_twice};
use chrono::{DateTime, Utc};

/// Where a revoked or deleted key's prefix is announced (migration 0003).
pub const KEY_CHANGES_CHANNEL: &str = "haul_api_keys";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub prefix: String,
    pub tenant: String,
    pub key_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl MetaDb {
    /// Stores a key; false if the prefix is taken (the caller draws again).
    pub async fn insert_key(
        &self,
        prefix: &str,
        tenant: &str,
        key_hash: &[u8],
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO haul.api_keys (prefix, tenant, key_hash) VALUES ($1, $2, $3) ON CONFLICT (prefix) DO NOTHING",
        )
        .bind(prefix)
        .bind(tenant)
        .bind(key_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The live (unrevoked) key with this prefix.
    pub async fn live_key(&self, prefix: &str) -> anyhow::Result<Option<KeyRow>> {
        read_twice(|| {
            sqlx::query_as("SELECT * FROM haul.api_keys WHERE prefix = $1 AND revoked_at IS NULL")
                .bind(prefix)
                .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn list_keys(&self) -> anyhow::Result<Vec<KeyRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM haul.api_keys ORDER BY created_at, prefix")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Revokes a key; false if no live key has this prefix.
    pub async fn revoke_key(&self, prefix: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE haul.api_keys SET revoked_at = now() WHERE prefix = $1 AND revoked_at IS NULL",
        )
        .bind(prefix)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
