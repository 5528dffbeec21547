//! Where finished parts go. In an export, to S3 through the `Uploader`; for
//! `haul bench-encode`, nowhere, which measures the read and encode path
//! (Postgres, framing, compression, hashing) without S3's share.

use crate::errors::JobError;
use crate::uploader::Uploader;
use bytes::Bytes;
use haul_db::meta::PartCheckpoint;

pub trait PartSink: Send {
    fn push(
        &mut self,
        body: Bytes,
        checkpoint: PartCheckpoint,
    ) -> impl Future<Output = Result<(), JobError>> + Send;
}

impl PartSink for Uploader {
    async fn push(&mut self, body: Bytes, checkpoint: PartCheckpoint) -> Result<(), JobError> {
        Uploader::push(self, body, checkpoint).await
    }
}

/// Drops every part, counting them.
#[derive(Debug, Default)]
pub struct DiscardSink {
    pub parts: u32,
    pub bytes: u64,
}

impl PartSink for DiscardSink {
    async fn push(&mut self, body: Bytes, _checkpoint: PartCheckpoint) -> Result<(), JobError> {
        self.parts += 1;
        self.bytes += body.len() as u64;
        Ok(())
    }
}
