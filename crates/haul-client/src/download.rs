//! Resumable, verified downloads: the 303 is followed by hand (so the API
//! key never reaches S3), a partial file continues with `Range`, and the
//! whole file is checked against the export's SHA-256 at the end.

use crate::Result;
use crate::client::Client;
use crate::error::Error;
use crate::types::{Export, Status};
use futures::StreamExt;
use reqwest::{StatusCode, header};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reported as bytes arrive: `done` counts what the file holds, including
/// what a previous, interrupted download left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadProgress {
    pub done: u64,
    pub total: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadOutcome {
    pub path: PathBuf,
    /// Size of the finished file (equal to `result.bytes`).
    pub bytes: u64,
    /// Where the transfer started: the partial file's length when S3
    /// continued it (206), 0 for a download from the start.
    pub resumed_from: u64,
    /// Bytes received over the network in this call.
    pub fetched: u64,
    pub sha256: String,
}

/// What to do with a file already at the output path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExistingFile {
    /// Treat it as the start of this export's file and fetch only the rest.
    #[default]
    Resume,
    /// Discard it and download from the first byte.
    Replace,
}

impl Client {
    /// Downloads a succeeded export's file to `path` and verifies it.
    ///
    /// A shorter file already at `path` is continued with `Range:
    /// bytes=<len>-` (S3 answers 206); should S3 answer 200 instead, the file
    /// is rewritten from the start. A file that already has the full length
    /// is only verified. Whatever happened, the SHA-256 of the whole file
    /// must equal `result.sha256`, or the call fails with
    /// [`Error::ChecksumMismatch`] (the file is left for inspection).
    pub async fn download_to_file(
        &self,
        export: &Export,
        path: &Path,
        existing: ExistingFile,
        mut on_progress: impl FnMut(DownloadProgress),
    ) -> Result<DownloadOutcome> {
        let result = match (&export.result, export.status) {
            (Some(r), Status::Succeeded) => r,
            _ => {
                return Err(Error::NotDownloadable {
                    id: export.id,
                    status: export.status.to_string(),
                });
            }
        };
        let total = result.bytes;
        let on_disk = match (existing, tokio::fs::metadata(path).await) {
            (ExistingFile::Resume, Ok(m)) if m.is_file() => Some(m.len()),
            (_, Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::file(path)(e));
            }
            _ => None,
        };
        // Longer than the export: not a prefix of it, so start over.
        let have = on_disk.filter(|&len| len <= total);

        let (resumed_from, fetched) = if have == Some(total) {
            on_progress(DownloadProgress { done: total, total });
            (total, 0)
        } else {
            self.fetch(export.id, path, have.unwrap_or(0), total, &mut on_progress)
                .await?
        };

        let (len, sha256) = sha256_of(path).await?;
        if len != total {
            return Err(Error::Protocol(format!(
                "{} has {len} bytes but the export has {total}; run the download again to resume",
                path.display()
            )));
        }
        if sha256 != result.sha256 {
            return Err(Error::ChecksumMismatch {
                path: path.to_path_buf(),
                expected: result.sha256.clone(),
                actual: sha256,
            });
        }
        Ok(DownloadOutcome {
            path: path.to_path_buf(),
            bytes: len,
            resumed_from,
            fetched,
            sha256,
        })
    }

    /// Fetches from byte `have` on (or from 0 if S3 ignores the range) and
    /// returns where the transfer started and how much arrived.
    async fn fetch(
        &self,
        id: uuid::Uuid,
        path: &Path,
        have: u64,
        total: u64,
        on_progress: &mut impl FnMut(DownloadProgress),
    ) -> Result<(u64, u64)> {
        let url = self.presigned_url(id).await?;
        let mut req = self.http.get(&url);
        if have > 0 {
            req = req.header(header::RANGE, format!("bytes={have}-"));
        }
        let res = req.send().await?;
        let start = match res.status() {
            StatusCode::PARTIAL_CONTENT if have > 0 => {
                let range = res
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !range.starts_with(&format!("bytes {have}-")) {
                    return Err(Error::Protocol(format!(
                        "asked S3 for bytes {have}- and got Content-Range `{range}`"
                    )));
                }
                have
            }
            StatusCode::OK => 0,
            status => {
                let body = res.text().await.unwrap_or_default();
                return Err(Error::Storage {
                    status: status.as_u16(),
                    body: body.chars().take(500).collect(),
                });
            }
        };

        let mut file = if start > 0 {
            tokio::fs::OpenOptions::new().append(true).open(path).await
        } else {
            tokio::fs::File::create(path).await
        }
        .map_err(Error::file(path))?;

        let mut done = start;
        on_progress(DownloadProgress { done, total });
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(source) => {
                    // Keep what arrived, so the next call continues from it.
                    let _ = file.flush().await;
                    return Err(Error::Interrupted {
                        path: path.to_path_buf(),
                        have: done,
                        total,
                        source,
                    });
                }
            };
            file.write_all(&chunk).await.map_err(Error::file(path))?;
            done += chunk.len() as u64;
            on_progress(DownloadProgress { done, total });
        }
        file.flush().await.map_err(Error::file(path))?;
        file.sync_all().await.map_err(Error::file(path))?;
        Ok((start, done - start))
    }
}

async fn sha256_of(path: &Path) -> Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(Error::file(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(Error::file(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex::encode(hasher.finalize())))
}
