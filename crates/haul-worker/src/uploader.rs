//! Parts in flight: up to `parts_in_flight` uploads run at once while the
//! next part is read and encoded; checkpoints are committed strictly in part
//! order, so the last checkpoint always describes a gap-free prefix of the
//! object.

use crate::errors::JobError;
use crate::hash_chain::{PartSha, resolve};
use bytes::Bytes;
use haul_db::{MetaDb, meta::PartCheckpoint};
use haul_s3::{MultipartUpload, UploadedPart};
use std::collections::VecDeque;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A part on its way: its checkpoint, waiting for the part's ETag and hash.
struct InFlight {
    checkpoint: PartCheckpoint,
    sha: PartSha,
    upload: JoinHandle<Result<UploadedPart, JobError>>,
}

pub struct Uploader {
    upload: MultipartUpload,
    meta: MetaDb,
    export_id: Uuid,
    lease: Uuid,
    limit: usize,
    in_flight: VecDeque<InFlight>,
    /// Every part of the object so far, committed or resumed.
    pub done: Vec<UploadedPart>,
}

impl Uploader {
    pub fn new(
        upload: MultipartUpload,
        meta: MetaDb,
        export_id: Uuid,
        lease: Uuid,
        limit: usize,
    ) -> Self {
        Self {
            upload,
            meta,
            export_id,
            lease,
            limit,
            in_flight: VecDeque::new(),
            done: Vec::new(),
        }
    }

    /// Starts uploading a part; waits first if `limit` parts are in flight.
    /// `checkpoint.etag` is filled in once S3 answers, `checkpoint.sha` from
    /// `sha` once the part is hashed.
    pub async fn push(
        &mut self,
        body: Bytes,
        checkpoint: PartCheckpoint,
        sha: PartSha,
    ) -> Result<(), JobError> {
        while self.in_flight.len() >= self.limit {
            self.commit_oldest().await?;
        }
        let upload = self.upload.clone();
        let n = checkpoint.part_number;
        let task = tokio::spawn(async move {
            let timer = haul_core::metrics::PART_UPLOAD_SECONDS.start_timer();
            let uploaded = upload.upload_part(n, body).await.map_err(JobError::from);
            timer.observe_duration();
            uploaded
        });
        self.in_flight.push_back(InFlight {
            checkpoint,
            sha,
            upload: task,
        });
        Ok(())
    }

    async fn commit_oldest(&mut self) -> Result<(), JobError> {
        let Some(InFlight {
            mut checkpoint,
            sha,
            upload,
        }) = self.in_flight.pop_front()
        else {
            return Ok(());
        };
        let uploaded = upload
            .await
            .map_err(|e| JobError::Transient(anyhow::anyhow!("part upload task failed: {e}")))??;
        checkpoint.etag = uploaded.etag.clone();
        checkpoint.sha = resolve(sha).await?;
        self.meta
            .checkpoint(self.export_id, self.lease, &checkpoint)
            .await?;
        tracing::debug!(
            part = checkpoint.part_number,
            rows = checkpoint.rows,
            bytes = checkpoint.bytes,
            "checkpointed part"
        );
        self.done.push(uploaded);
        Ok(())
    }

    /// Waits for every part in flight and commits their checkpoints.
    pub async fn drain(&mut self) -> Result<(), JobError> {
        while !self.in_flight.is_empty() {
            self.commit_oldest().await?;
        }
        Ok(())
    }

    /// Stops uploads still running (their parts are simply not checkpointed).
    pub fn cancel(&mut self) {
        for part in self.in_flight.drain(..) {
            part.upload.abort();
        }
    }

    pub fn upload(&self) -> &MultipartUpload {
        &self.upload
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.cancel();
    }
}
