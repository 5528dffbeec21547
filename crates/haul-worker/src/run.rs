//! The life of one export job: attempts with backoff on transient faults,
//! and the clean ending of every other outcome (the upload aborted, the row
//! failed or cancelled with a code).

use crate::context::WorkerContext;
use crate::errors::JobError;
use crate::pipeline::run_attempt;
use haul_core::Status;
use haul_db::meta::ExportRow;
use haul_s3::MultipartUpload;
use rand::Rng;
use std::time::Duration;
use uuid::Uuid;

/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How a job ended for this process.
#[derive(Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// The export reached a final status, or is no longer this job's to run.
    Finished,
    /// The process is stopping: the job goes back to the queue at once.
    HandBack,
}

#[tracing::instrument(skip_all, fields(export_id = %id))]
pub async fn run_export(ctx: &WorkerContext, id: Uuid) -> anyhow::Result<JobOutcome> {
    let max_attempts = ctx.settings.worker.max_attempts as i32;
    loop {
        let Some(row) = ctx.meta.claim_export(id).await? else {
            tracing::info!("export is no longer runnable; nothing to do");
            return Ok(JobOutcome::Finished);
        };
        if row.cancel_requested {
            // Cancelled while its earlier attempt was running or waiting to retry.
            end_badly(ctx, &row, JobError::Cancelled).await?;
            return Ok(JobOutcome::Finished);
        }
        if row.attempt > max_attempts {
            // Earlier attempts died without recording an ending (crashes, OOM).
            let err = JobError::permanent(
                "attempts-exhausted",
                format!("gave up after {max_attempts} attempts"),
            );
            end_badly(ctx, &row, err).await?;
            return Ok(JobOutcome::Finished);
        }
        match run_attempt(ctx, &row).await {
            Ok(()) => return Ok(JobOutcome::Finished),
            Err(JobError::Transient(e)) if row.attempt < max_attempts => {
                let pause = backoff(ctx.settings.worker.retry_backoff.0, row.attempt);
                tracing::warn!(attempt = row.attempt, error = %format!("{e:#}"), ?pause, "transient fault; will resume from the last checkpoint");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    // The next claim sees the request and ends the export.
                    _ = cancel_requested(ctx, id) => {}
                    _ = ctx.shutdown.cancelled() => return hand_back(ctx, &row).await,
                }
            }
            Err(JobError::LeaseLost) => {
                tracing::warn!("another attempt owns this export; stopping this one");
                return Ok(JobOutcome::Finished);
            }
            Err(JobError::Shutdown) => return hand_back(ctx, &row).await,
            Err(err) => {
                end_badly(ctx, &row, err).await?;
                return Ok(JobOutcome::Finished);
            }
        }
    }
}

/// Releases the export for the queue to give to the next worker at once.
async fn hand_back(ctx: &WorkerContext, row: &ExportRow) -> anyhow::Result<JobOutcome> {
    tracing::info!("shutting down; handing the export back at its last checkpoint");
    let lease = row.lease.expect("claimed");
    if let Err(e) = ctx.meta.release_export(row.id, lease).await {
        // The next claim takes the export over all the same; this attempt
        // then merely counts against worker.max_attempts.
        tracing::warn!(error = %format!("{e:#}"), "could not release the export");
    }
    Ok(JobOutcome::HandBack)
}

/// Resolves once a client asks to cancel the export, so that a pause between
/// attempts does not delay the cancel.
async fn cancel_requested(ctx: &WorkerContext, id: Uuid) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if ctx.meta.cancel_requested(id).await.unwrap_or(false) {
            return;
        }
    }
}

/// Full jitter over an exponential ceiling: spreads retries of many exports
/// hit by the same outage.
fn backoff(base: Duration, attempt: i32) -> Duration {
    let ceiling = haul_core::retry::exponential_ceiling(base, attempt, MAX_BACKOFF);
    let millis = rand::rng()
        .random_range(ceiling.as_millis() as u64 / 2..=ceiling.as_millis().max(1) as u64);
    Duration::from_millis(millis)
}

/// Aborts the upload and removes any object at the final key (an earlier
/// attempt may have completed the upload and died before recording it), then
/// records the ending. The row stays locked under this attempt's lease
/// meanwhile, so a stale attempt can never abort or delete what a newer one
/// owns. If the abort fails, the upload id stays on the row for the sweeper.
async fn end_badly(ctx: &WorkerContext, claimed: &ExportRow, err: JobError) -> anyhow::Result<()> {
    let lease = claimed.lease.expect("claimed");
    let locked = match ctx.meta.lock_export(claimed.id, lease).await {
        Err(e) if e.downcast_ref::<haul_db::meta::LeaseLost>().is_some() => {
            tracing::warn!("another attempt owns this export; leaving its ending to it");
            return Ok(());
        }
        other => other?,
    };
    // The locked row, not the claimed one: this attempt may have opened the upload.
    let row = &locked.row;
    let mut upload_open = false;
    if let (Some(upload_id), Some(key)) = (&row.upload_id, &row.object_key) {
        let upload =
            MultipartUpload::resume(&ctx.storage.client, &ctx.storage.bucket, key, upload_id);
        upload_open = upload.abort().await.is_err();
    }
    // Even with no upload recorded, an earlier attempt may have put a
    // one-part file at the key and died before recording its success.
    let key = row
        .object_key
        .clone()
        .unwrap_or_else(|| ctx.object_key(row));
    if let Err(e) = ctx.storage.delete(&key).await {
        tracing::warn!(key, error = %e, "could not make sure no object is left at the final key");
    }
    let (status, error) = match &err {
        JobError::Cancelled => (Status::Cancelled, None),
        other => (Status::Failed, Some((other.code(), other.message()))),
    };
    match &error {
        Some((code, message)) => tracing::error!(code, message, "export failed"),
        None => tracing::info!("export cancelled"),
    }
    let error = error.as_ref().map(|(c, m)| (*c, m.as_str()));
    locked.end(status, error, upload_open).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        for _ in 0..50 {
            let b1 = backoff(base, 1);
            assert!(
                b1 >= Duration::from_secs(1) && b1 <= Duration::from_secs(2),
                "{b1:?}"
            );
            assert!(backoff(base, 30) <= MAX_BACKOFF);
        }
    }
}
