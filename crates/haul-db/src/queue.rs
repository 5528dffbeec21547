//! The export job queue (apalis-postgres). A job carries only the export id:
//! everything else lives in the exports row and its checkpoints.

use apalis::prelude::TaskBuilder;
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// The apalis queue (`apalis.jobs.job_type`) that export jobs use.
pub const EXPORT_QUEUE: &str = "haul-exports";

/// apalis re-runs a job that ended in a plain error until this many tries.
/// Haul counts attempts itself (`worker.max_attempts` on the exports row) and
/// ends exports there; this ceiling only guards against a job that keeps
/// failing before it can reach its row (for instance Haul's own database
/// being down for a long time).
pub const QUEUE_MAX_ATTEMPTS: i32 = 100;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    pub export_id: Uuid,
}

/// Enqueues the export's job in the caller's transaction, so the export row
/// and its job commit together or not at all.
pub async fn enqueue_export(
    tx: &mut Transaction<'_, Postgres>,
    export_id: Uuid,
) -> anyhow::Result<()> {
    let payload = serde_json::to_vec(&ExportJob { export_id })?;
    let task = TaskBuilder::new(payload)
        .max_attempts(QUEUE_MAX_ATTEMPTS as usize)
        .idempotency_key(export_id.to_string())
        .build();
    apalis_postgres::queries::push_tasks(&mut **tx, EXPORT_QUEUE, vec![task]).await?;
    Ok(())
}

/// Creates apalis's tables (idempotent).
pub async fn setup_queue(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    apalis_postgres::PostgresStorage::setup(pool).await?;
    Ok(())
}
