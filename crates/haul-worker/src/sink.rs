//! Where finished parts go. In an export, to S3 through the `Uploader`; for
//! `haul bench-encode`, nowhere, which measures the read and encode path
//! (Postgres, framing, compression, hashing) without S3's share.

use crate::errors::JobError;
use crate::hash_chain::PartSha;
use crate::uploader::Uploader;
use bytes::Bytes;
use haul_db::meta::PartCheckpoint;

pub trait PartSink: Send {
    fn push(
        &mut self,
        body: Bytes,
        checkpoint: PartCheckpoint,
        sha: PartSha,
    ) -> impl Future<Output = Result<(), JobError>> + Send;
}

impl PartSink for Uploader {
    async fn push(
        &mut self,
        body: Bytes,
        checkpoint: PartCheckpoint,
        sha: PartSha,
    ) -> Result<(), JobError> {
        Uploader::push(self, body, checkpoint, sha).await
    }
}

/// Drops every part, counting them (their hashes still run: `encode_into`
/// waits for the last one).
#[derive(Debug, Default)]
pub struct DiscardSink {
    pub parts: u32,
    pub bytes: u64,
}

impl PartSink for DiscardSink {
    async fn push(
        &mut self,
        body: Bytes,
        _checkpoint: PartCheckpoint,
        _sha: PartSha,
    ) -> Result<(), JobError> {
        self.parts += 1;
        self.bytes += body.len() as u64;
        Ok(())
    }
}
