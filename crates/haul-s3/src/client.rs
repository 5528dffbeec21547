//! Builds the S3 clients from configuration: one for Haul's own calls and
//! one, possibly on another endpoint, for the URLs handed to clients.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    RequestChecksumCalculation, ResponseChecksumValidation, StalledStreamProtectionConfig,
};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use haul_core::config::S3Settings;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Storage {
    pub client: Client,
    /// Signs presigned URLs with `s3.public_endpoint` when clients reach S3
    /// by another address than Haul does (compose, LocalStack, private links).
    pub presigner: Client,
    pub bucket: String,
    pub prefix: String,
    /// Haul reaches S3 over TLS (AWS itself, or an https endpoint), which
    /// protects part bodies in transit; see `MultipartUpload::sign_payload`.
    pub over_tls: bool,
}

impl Storage {
    pub async fn from_settings(s3: &S3Settings) -> Self {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(s3.region.clone()))
            .load()
            .await;
        let build = |endpoint: Option<&String>| {
            let mut b = aws_sdk_s3::config::Builder::from(&shared)
                .force_path_style(s3.force_path_style)
                // Checksums only where S3 requires them: S3-compatible stores
                // (LocalStack, MinIO) vary in support for the newer defaults.
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
                .stalled_stream_protection(
                    StalledStreamProtectionConfig::enabled()
                        .grace_period(Duration::from_secs(20))
                        .build(),
                )
                .timeout_config(
                    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_attempt_timeout(Duration::from_secs(120))
                        .build(),
                );
            if let Some(e) = endpoint {
                b = b.endpoint_url(e);
            }
            Client::from_conf(b.build())
        };
        let client = build(s3.endpoint.as_ref());
        let presigner = build(s3.public_endpoint.as_ref().or(s3.endpoint.as_ref()));
        Self {
            client,
            presigner,
            bucket: s3.bucket.clone(),
            prefix: s3.prefix.clone(),
            over_tls: s3
                .endpoint
                .as_deref()
                .is_none_or(|e| e.starts_with("https://")),
        }
    }

    /// `<prefix><tenant>/<id>/<filename>` (API.md, "Files").
    pub fn object_key(&self, tenant: &str, id: &str, filename: &str) -> String {
        format!("{}{tenant}/{id}/{filename}", self.prefix)
    }

    /// Whether the bucket answers: used by `/readyz`.
    pub async fn ping(&self) -> Result<(), crate::StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(crate::errors::classify)
    }

    /// Writes a whole object in one request: an export that fits in one
    /// part needs no multipart upload (one S3 call instead of three). The
    /// object appears at its key only once the whole body has arrived.
    /// Payload signing follows `MultipartUpload::sign_payload`.
    pub async fn put(
        &self,
        key: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<(), crate::StorageError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(body.len() as i64)
            .body(ByteStream::from(body))
            .customize();
        if self.over_tls {
            request = request.disable_payload_signing();
        }
        request
            .send()
            .await
            .map(|_| ())
            .map_err(crate::errors::classify)?;
        tracing::info!(key, "put the whole object");
        Ok(())
    }

    pub async fn delete(&self, key: &str) -> Result<(), crate::StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(crate::errors::classify)
    }
}

/// A multipart upload S3 still holds open.
#[derive(Debug, Clone)]
pub struct OpenUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<std::time::SystemTime>,
}

impl Storage {
    /// Open multipart uploads under `s3.prefix` (first 1,000; the sweeper
    /// gets the rest on later rounds).
    pub async fn open_uploads(&self) -> Result<Vec<OpenUpload>, crate::StorageError> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .send()
            .await
            .map_err(crate::errors::classify)?;
        Ok(out
            .uploads()
            .iter()
            .filter_map(|u| {
                Some(OpenUpload {
                    key: u.key()?.to_string(),
                    upload_id: u.upload_id()?.to_string(),
                    initiated: u
                        .initiated()
                        .and_then(|t| std::time::SystemTime::try_from(*t).ok()),
                })
            })
            .collect())
    }
}
