//! The file's SHA-256, computed beside the read loop rather than in it.
//!
//! Hashing a part inline would stop reading the source for as long as the
//! hash takes, and PostgreSQL's COPY would stall behind a full socket. Each
//! part is instead hashed on a blocking thread once the part before it is,
//! so the hashes stay in file order while the next pages stream.

use crate::errors::JobError;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use haul_encode::ResumableSha256;

/// The hash state after some part, once it is computed. Shared: the part's
/// checkpoint and the next part's hash both wait for it.
pub type PartSha = Shared<BoxFuture<'static, Result<ResumableSha256, String>>>;

pub struct HashChain {
    last: PartSha,
}

impl HashChain {
    /// Continues from `start`: the state a resumed export checkpointed.
    pub fn new(start: ResumableSha256) -> Self {
        Self {
            last: futures::future::ready(Ok(start)).boxed().shared(),
        }
    }

    /// Hashes `body` after every part pushed before it; returns the state
    /// after this part.
    pub fn push(&mut self, body: Bytes) -> PartSha {
        let before = self.last.clone();
        let task = tokio::spawn(async move {
            let mut sha = before.await?;
            tokio::task::spawn_blocking(move || {
                sha.update(&body);
                sha
            })
            .await
            .map_err(|e| format!("hashing a part failed: {e}"))
        });
        self.last = async move {
            task.await
                .map_err(|e| format!("hashing a part failed: {e}"))?
        }
        .boxed()
        .shared();
        self.last.clone()
    }

    /// The state after the last part pushed.
    pub async fn current(&self) -> Result<ResumableSha256, JobError> {
        resolve(self.last.clone()).await
    }
}

pub async fn resolve(sha: PartSha) -> Result<ResumableSha256, JobError> {
    sha.await
        .map_err(|e| JobError::Transient(anyhow::anyhow!(e)))
}
