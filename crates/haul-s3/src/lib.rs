//! S3: the client, a resumable multipart upload that always aborts on
//! failure, and presigned downloads.

pub mod client;
pub mod errors;
pub mod multipart;
pub mod presign;

pub use client::{OpenUpload, Storage};
pub use errors::StorageError;
pub use multipart::{MultipartUpload, UploadedPart};
