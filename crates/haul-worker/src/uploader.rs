//! Parts in flight: up to `parts_in_flight` uploads run at once while the
//! next part is read and encoded; checkpoints are committed strictly in part
//! order, so the last checkpoint always describes a gap-free prefix of the
//! object. A file that fits in its first part needs no multipart upload at
//! all: it goes up in one PutObject once the export's row is locked.

use crate::errors::JobError;
use crate::hash_chain::{PartSha, resolve};
use bytes::Bytes;
use haul_db::{MetaDb, meta::PartCheckpoint};
use haul_s3::{MultipartUpload, Storage, StorageError, UploadedPart};
use std::collections::VecDeque;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A part on its way: its checkpoint, waiting for the part's ETag and hash.
struct InFlight {
    checkpoint: PartCheckpoint,
    sha: PartSha,
    upload: JoinHandle<Result<UploadedPart, JobError>>,
}

/// Where an attempt's parts go.
pub enum Target {
    /// A first attempt before its second part: nothing is on S3 yet.
    Unopened(NewObject),
    /// The export's multipart upload, opened by this attempt or an earlier one.
    Multipart(MultipartUpload),
}

/// The object a first attempt writes, and what is recorded with its
/// multipart upload should it need one.
pub struct NewObject {
    pub storage: Storage,
    pub key: String,
    pub content_type: &'static str,
    pub high_water: Option<Vec<String>>,
    pub rows_estimate: Option<i64>,
}

impl NewObject {
    /// Opens the multipart upload and records it with the attempt's
    /// high-water key, so that a later attempt resumes it.
    async fn open(
        &self,
        meta: &MetaDb,
        id: Uuid,
        lease: Uuid,
    ) -> Result<MultipartUpload, JobError> {
        let s = &self.storage;
        let upload = MultipartUpload::create(&s.client, &s.bucket, &self.key, self.content_type)
            .await?
            .sign_payload(!s.over_tls);
        let recorded = meta
            .record_upload(
                id,
                lease,
                &self.key,
                &upload.upload_id,
                self.high_water.as_deref(),
                self.rows_estimate,
            )
            .await;
        if let Err(e) = recorded {
            // Nobody else knows this upload id: abort it here or it leaks.
            let _ = upload.abort().await;
            return Err(e.into());
        }
        Ok(upload)
    }
}

pub struct Uploader {
    target: Target,
    /// The whole file, when the first part was also the last.
    whole: Option<Bytes>,
    meta: MetaDb,
    export_id: Uuid,
    lease: Uuid,
    limit: usize,
    in_flight: VecDeque<InFlight>,
    /// Every part of the object so far, committed or resumed.
    pub done: Vec<UploadedPart>,
}

impl Uploader {
    pub fn new(target: Target, meta: MetaDb, export_id: Uuid, lease: Uuid, limit: usize) -> Self {
        Self {
            target,
            whole: None,
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
        if let Target::Unopened(object) = &self.target {
            if checkpoint.part_number == 1 && checkpoint.is_final {
                self.whole = Some(body);
                return Ok(());
            }
            let upload = object.open(&self.meta, self.export_id, self.lease).await?;
            self.target = Target::Multipart(upload);
        }
        let Target::Multipart(upload) = &self.target else {
            unreachable!("opened above")
        };
        let upload = upload.clone();
        while self.in_flight.len() >= self.limit {
            self.commit_oldest().await?;
        }
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

    /// The multipart upload's id, if one is open.
    pub fn upload_id(&self) -> Option<&str> {
        match &self.target {
            Target::Multipart(upload) => Some(&upload.upload_id),
            Target::Unopened(_) => None,
        }
    }

    /// Puts the file at its key, after `drain`: the whole object in one
    /// request, or the multipart upload completed. The caller holds the
    /// export's row lock, so a stale attempt never gets this far. Answers
    /// the object's key.
    pub async fn finish(&self, expected_bytes: i64) -> Result<&str, JobError> {
        match &self.target {
            Target::Unopened(object) => {
                let body = self.whole.clone().expect("a file has at least one part");
                let timer = haul_core::metrics::PART_UPLOAD_SECONDS.start_timer();
                object
                    .storage
                    .put(&object.key, object.content_type, body)
                    .await?;
                timer.observe_duration();
                Ok(&object.key)
            }
            Target::Multipart(upload) => {
                complete_upload(upload, &self.done, expected_bytes).await?;
                Ok(&upload.key)
            }
        }
    }
}

/// Completes the upload. `NoSuchUpload` is success when an earlier attempt
/// under this export already completed it (and died before recording so):
/// the object is then at its key with exactly the checkpointed size.
async fn complete_upload(
    upload: &MultipartUpload,
    parts: &[UploadedPart],
    expected_bytes: i64,
) -> Result<(), JobError> {
    match upload.complete(parts).await {
        Ok(()) => Ok(()),
        Err(StorageError::NoSuchUpload(m)) => match upload.object_size().await? {
            Some(size) if size == expected_bytes => {
                tracing::info!(
                    size,
                    "upload was already completed by an earlier attempt; keeping its object"
                );
                Ok(())
            }
            found => {
                let at_key = match found {
                    Some(size) => format!("an object of {size} bytes, not {expected_bytes}"),
                    None => "no object".to_string(),
                };
                Err(JobError::permanent(
                    "upload-lost",
                    format!("the multipart upload is gone and its key holds {at_key}: {m}"),
                ))
            }
        },
        Err(e) => Err(e.into()),
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.cancel();
    }
}
