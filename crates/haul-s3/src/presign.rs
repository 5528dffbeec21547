//! Presigned GET URLs: the 303 target of every download.

use crate::client::Storage;
use crate::errors::StorageError;
use aws_sdk_s3::presigning::PresigningConfig;
use haul_core::limits::PRESIGN_MAX_SECS;
use std::time::Duration;

impl Storage {
    /// A fresh URL for `key`, valid for `ttl` (capped at S3's 7 days), that
    /// makes S3 answer with an attachment disposition and the content type.
    pub async fn presign_get(
        &self,
        key: &str,
        filename: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        let ttl = ttl.min(Duration::from_secs(PRESIGN_MAX_SECS));
        let config = PresigningConfig::expires_in(ttl)
            .map_err(|e| StorageError::Permanent(e.to_string()))?;
        let req = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            // Filenames are restricted to [A-Za-z0-9._-] at the API, so
            // quoting is enough; no RFC 5987 encoding is needed.
            .response_content_disposition(format!("attachment; filename=\"{filename}\""))
            .response_content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| StorageError::Permanent(e.to_string()))?;
        Ok(req.uri().to_string())
    }
}
