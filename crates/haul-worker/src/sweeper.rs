//! Housekeeping that no single export owns, run by every worker process
//! every `worker.sweep_every`. One process sweeps at a time (an advisory
//! lock), and each step is idempotent anyway (deleting or aborting twice is
//! harmless), so a sweeper that dies mid-way leaves nothing half-done.
//! 1. abort uploads that failed or cancelled exports could not abort then;
//! 2. delete the objects of exports past `exports.ttl` and mark them expired;
//! 3. abort multipart uploads under Haul's prefix that no live export owns
//!    and that are older than `worker.stray_upload_age`.

use crate::context::WorkerContext;
use haul_s3::MultipartUpload;
use std::time::SystemTime;

/// Rows handled per step per round; the rest wait for the next round.
const BATCH: i64 = 100;

pub async fn run_sweeper(ctx: WorkerContext) {
    let every = ctx.settings.worker.sweep_every.0;
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = sweep_once(&ctx).await {
            tracing::warn!(error = %format!("{e:#}"), "sweep failed; will try again");
        }
    }
}

/// One round, unless another process is sweeping right now.
pub async fn sweep_once(ctx: &WorkerContext) -> anyhow::Result<()> {
    let Some(turn) = ctx.meta.try_sweep_turn().await? else {
        return Ok(());
    };
    let swept = sweep(ctx).await;
    turn.commit().await?;
    swept
}

async fn sweep(ctx: &WorkerContext) -> anyhow::Result<()> {
    let storage = &ctx.storage;
    for left in ctx.meta.unaborted_uploads(BATCH).await? {
        let (Some(key), Some(upload_id)) = (&left.object_key, &left.upload_id) else {
            continue;
        };
        MultipartUpload::resume(&storage.client, &storage.bucket, key, upload_id)
            .abort()
            .await?;
        ctx.meta.clear_upload(left.id, upload_id).await?;
    }
    for left in ctx.meta.expired_exports(BATCH).await? {
        if let Some(key) = &left.object_key {
            storage.delete(key).await?;
        }
        ctx.meta.mark_expired(left.id).await?;
        tracing::info!(export_id = %left.id, "export expired; object deleted");
    }
    let max_age = ctx.settings.worker.stray_upload_age.0;
    for upload in storage.open_uploads().await? {
        let old = upload
            .initiated
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age >= max_age);
        if old && !ctx.meta.owns_upload(&upload.upload_id).await? {
            tracing::info!(key = %upload.key, upload_id = %upload.upload_id, "aborting stray multipart upload");
            MultipartUpload::resume(
                &storage.client,
                &storage.bucket,
                &upload.key,
                &upload.upload_id,
            )
            .abort()
            .await?;
        }
    }
    Ok(())
}
