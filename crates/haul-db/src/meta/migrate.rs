//! Haul's schema migrations, applied in order, each once, under an advisory
//! lock so that several processes starting together do not race.
//!
//! They are tracked in `haul.schema_migrations` rather than sqlx's
//! `_sqlx_migrations`, which apalis-postgres uses for its own tables in the
//! same database.

use anyhow::Context;
use sqlx::PgPool;

const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "webhooks",
        include_str!("../../migrations/0002_webhooks.sql"),
    ),
    (
        3,
        "api_key_changes",
        include_str!("../../migrations/0003_api_key_changes.sql"),
    ),
    (
        4,
        "queue_export",
        include_str!("../../migrations/0004_queue_export.sql"),
    ),
    (
        5,
        "announce_jobs_after_commit",
        include_str!("../../migrations/0005_announce_jobs_after_commit.sql"),
    ),
];

/// An arbitrary constant: the advisory lock that serializes migrations.
const MIGRATION_LOCK: i64 = 0x0068_6175_6c6d_6967; // "haulmig"

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool
        .begin()
        .await
        .context("Failed to begin the migration transaction")?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(
        "CREATE SCHEMA IF NOT EXISTS haul;
         CREATE TABLE IF NOT EXISTS haul.schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut *tx)
    .await
    .context("Failed to create haul.schema_migrations")?;
    let applied: Vec<i32> = sqlx::query_scalar("SELECT version FROM haul.schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("Failed to apply migration {version} ({name})"))?;
        sqlx::query("INSERT INTO haul.schema_migrations (version, name) VALUES ($1, $2)")
            .bind(version)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, name, "applied migration");
    }
    tx.commit().await.context("Failed to commit migrations")?;
    Ok(())
}
