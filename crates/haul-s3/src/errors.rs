//! S3 failures sorted into what a caller can act on: retry later, or give up.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Network trouble, timeouts, throttling, 5xx: worth retrying.
    #[error("storage unavailable: {0}")]
    Transient(String),
    /// The upload no longer exists (aborted, completed by someone else).
    #[error("multipart upload not found: {0}")]
    NoSuchUpload(String),
    /// Access denied, missing bucket, bad request: retrying will not help.
    #[error("storage refused the request: {0}")]
    Permanent(String),
}

impl StorageError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Transient(_))
    }
}

/// One place that maps SDK errors to domain errors.
pub fn classify<E>(err: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StorageError::Transient(text)
        }
        SdkError::ServiceError(service) => match service.err().code() {
            Some("NoSuchUpload") => StorageError::NoSuchUpload(text),
            Some(
                "SlowDown"
                | "InternalError"
                | "ServiceUnavailable"
                | "RequestTimeout"
                | "RequestTimeTooSkewed",
            ) => StorageError::Transient(text),
            _ if service.raw().status().is_server_error() => StorageError::Transient(text),
            _ => StorageError::Permanent(text),
        },
        _ => StorageError::Permanent(text),
    }
}
