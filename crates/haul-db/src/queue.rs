//! The export job queue (apalis-postgres). A job carries only the export id:
//! everything else lives in the exports row and its checkpoints.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The apalis queue (`apalis.jobs.job_type`) that export jobs use.
pub const EXPORT_QUEUE: &str = "haul-exports";

/// The channel apalis-postgres's workers LISTEN on for new jobs.
pub const NEW_JOB_CHANNEL: &str = "apalis::job::insert";

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

/// The columns of an export's row in `apalis.jobs`, which `haul.queue_export`
/// inserts in the same statement as the export itself.
pub struct JobRow {
    /// apalis task ids are ULIDs. A UUIDv7 has the same layout (48 bits of
    /// Unix milliseconds, then randomness), so the export id serves as its
    /// job's id too.
    pub id: String,
    /// apalis's default codec: the job as JSON.
    pub payload: Vec<u8>,
}

impl JobRow {
    pub fn for_export(export_id: Uuid) -> anyhow::Result<Self> {
        Ok(Self {
            id: ulid::Ulid::from(export_id.as_u128()).to_string(),
            payload: serde_json::to_vec(&ExportJob { export_id })?,
        })
    }
}

/// Creates apalis's tables (idempotent).
pub async fn setup_queue(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    apalis_postgres::PostgresStorage::setup(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_id_is_the_export_id_as_a_ulid_with_its_timestamp() {
        let export_id = Uuid::now_v7();
        let job = JobRow::for_export(export_id).unwrap();
        let ulid: ulid::Ulid = job.id.parse().unwrap();
        let (secs, nanos) = export_id.get_timestamp().unwrap().to_unix();
        assert_eq!(
            ulid.timestamp_ms(),
            secs * 1000 + u64::from(nanos) / 1_000_000
        );
        assert_eq!(ulid.0, export_id.as_u128());
        let back: ExportJob = serde_json::from_slice(&job.payload).unwrap();
        assert_eq!(back.export_id, export_id);
    }
}
