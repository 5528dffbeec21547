//! A multipart upload that can be resumed by another process (its id and
//! finished parts live in Postgres) and is aborted on every failure path.

use crate::errors::{StorageError, classify};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

#[derive(Clone, Debug)]
pub struct MultipartUpload {
    client: Client,
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    /// Whether part bodies are SHA-256 hashed into their SigV4 signature.
    /// Over TLS that is a second full hash of the file (beside the one Haul
    /// publishes) for integrity TLS already gives, so it is skipped there;
    /// over plain HTTP (LocalStack, a private MinIO) the signature is the
    /// only check S3 makes that the body arrived intact, so it is kept.
    sign_payload: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: i32,
    pub etag: String,
}

impl MultipartUpload {
    /// Starts a new upload. Content type and disposition are fixed here, on
    /// the object itself, so that every download serves them.
    pub async fn create(
        client: &Client,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Self, StorageError> {
        let out = client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(classify)?;
        let upload_id = out.upload_id().ok_or_else(|| {
            StorageError::Permanent("CreateMultipartUpload returned no upload id".into())
        })?;
        tracing::info!(bucket, key, upload_id, "started multipart upload");
        Ok(Self::resume(client, bucket, key, upload_id))
    }

    /// Continues an upload started earlier, perhaps by another process.
    pub fn resume(client: &Client, bucket: &str, key: &str, upload_id: &str) -> Self {
        Self {
            client: client.clone(),
            bucket: bucket.into(),
            key: key.into(),
            upload_id: upload_id.into(),
            sign_payload: true,
        }
    }

    /// See the `sign_payload` field: pass `!storage.over_tls`.
    pub fn sign_payload(mut self, sign: bool) -> Self {
        self.sign_payload = sign;
        self
    }

    pub async fn upload_part(
        &self,
        part_number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, StorageError> {
        let mut request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(part_number)
            .content_length(body.len() as i64)
            .body(ByteStream::from(body))
            .customize();
        if !self.sign_payload {
            request = request.disable_payload_signing();
        }
        let out = request.send().await.map_err(classify)?;
        let etag = out.e_tag().ok_or_else(|| {
            StorageError::Permanent(format!("UploadPart {part_number} returned no ETag"))
        })?;
        Ok(UploadedPart {
            part_number,
            etag: etag.to_string(),
        })
    }

    /// Completes the upload; the object appears at its key only now.
    pub async fn complete(&self, parts: &[UploadedPart]) -> Result<(), StorageError> {
        let completed: Vec<CompletedPart> = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.part_number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(classify)?;
        tracing::info!(key = %self.key, upload_id = %self.upload_id, parts = parts.len(), "completed multipart upload");
        Ok(())
    }

    /// Size of the object at the upload's key, `None` if there is none. A
    /// completion answered `NoSuchUpload` checks this: an earlier attempt
    /// may have completed the upload and died before recording it.
    pub async fn object_size(&self) -> Result<Option<i64>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
        {
            Ok(out) => Ok(out.content_length()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Aborts the upload so no part outlives a failed export. An upload that
    /// is already gone counts as aborted.
    pub async fn abort(&self) -> Result<(), StorageError> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await
            .map_err(classify)
        {
            Ok(_) | Err(StorageError::NoSuchUpload(_)) => {
                tracing::info!(key = %self.key, upload_id = %self.upload_id, "aborted multipart upload");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(key = %self.key, upload_id = %self.upload_id, error = %e, "failed to abort multipart upload");
                Err(e)
            }
        }
    }
}
