//! Limits that come from the outside world, named once.

/// S3 rejects multipart parts smaller than 5 MiB (except the last one).
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>
pub const S3_MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// S3 rejects parts larger than 5 GiB.
pub const S3_MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// A multipart upload holds at most 10,000 parts.
pub const S3_MAX_PARTS: u32 = 10_000;

/// SigV4 presigned URLs are valid for at most 7 days.
pub const PRESIGN_MAX_SECS: u64 = 7 * 24 * 3600;

/// Longest `Idempotency-Key` header accepted (API.md).
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// Longest `filename` a client may ask for, before the extension; keeps object
/// keys well under S3's 1,024-byte limit.
pub const FILENAME_MAX_LEN: usize = 200;

/// Most columns a request may list, and most values in one `in` filter: enough
/// for any real table, small enough that a request cannot build a huge query.
pub const MAX_COLUMNS: usize = 1600;
pub const MAX_IN_VALUES: usize = 1000;
