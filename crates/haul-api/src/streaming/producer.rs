//! Reads the stream's rows page by page (keyset, like an export) and hands
//! the bytes to the response through a small channel: memory stays bounded
//! by the channel, and when the client goes away the send fails, the task
//! ends and its Postgres connection closes with it.
//!
//! In-band conventions (README, "Streaming rows"):
//! - ndjson: after the last row comes one line `{"@haul": {"complete": true,
//!   "rows": N, "next_since": "..."}}`; if reading fails mid-way the last line
//!   is `{"@haul": {"complete": false, "error": {...}, "resume_since": "..."}}`
//!   instead. A stream without either line was cut off.
//! - csv/tsv: a stream that ends cleanly is complete; on a failure the
//!   response is aborted before its chunked terminator, which HTTP clients
//!   report as an incomplete body (curl: exit code 18).

use bytes::Bytes;
use futures::TryStreamExt;
use haul_core::{Catalog, ExportSpec, Format, KeyCursor, Signer};
use haul_db::source::{PageQuery, SourceConn, connect_source};
use haul_encode::{JsonFramer, JsonLayout};
use serde_json::json;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Chunks buffered between Postgres and the client.
const CHANNEL_CHUNKS: usize = 8;
/// PostgreSQL sends COPY output one row per message; rows are gathered into
/// chunks of about this size, so the channel holds at most ~256 KiB.
const CHUNK_BYTES: usize = 32 * 1024;

pub type Chunk = Result<Bytes, std::io::Error>;

pub struct StreamJob {
    pub source_url: String,
    pub statement_timeout: Duration,
    pub page_rows: u32,
    pub catalog: Arc<Catalog>,
    pub signer: Signer,
    pub tenant: String,
    pub spec: ExportSpec,
    pub after: Option<Vec<String>>,
}

/// Starts reading; the receiver is the response body.
pub fn start(job: StreamJob) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    tokio::spawn(async move {
        let mut progress = Progress {
            rows: 0,
            after: job.after.clone(),
        };
        let outcome = produce(&job, &tx, &mut progress).await;
        let cursor = |key: Option<Vec<String>>| {
            KeyCursor {
                dataset: job.spec.dataset.clone(),
                tenant: job.tenant.clone(),
                key: key.unwrap_or_default(),
            }
            .encode(&job.signer)
        };
        match outcome {
            Ok(()) => {
                if job.spec.format == Format::Ndjson {
                    let end = json!({"@haul": {
                        "complete": true,
                        "rows": progress.rows,
                        "next_since": cursor(progress.after),
                    }});
                    let _ = tx.send(Ok(ndjson_line(&end))).await;
                }
            }
            Err(StreamEnd::ClientGone) => {
                tracing::info!(rows = progress.rows, "stream client disconnected");
            }
            Err(StreamEnd::Failed(e)) => {
                tracing::warn!(rows = progress.rows, error = %format!("{e:#}"), "stream failed");
                let chunk = match job.spec.format {
                    Format::Ndjson => Ok(ndjson_line(&json!({"@haul": {
                        "complete": false,
                        "rows": progress.rows,
                        "error": {"code": "stream-failed", "message": "reading the rows failed; resume with resume_since"},
                        "resume_since": cursor(progress.after),
                    }}))),
                    _ => Err(std::io::Error::other("the stream failed")),
                };
                let _ = tx.send(chunk).await;
            }
        }
    });
    rx
}

fn ndjson_line(value: &serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(value).expect("a JSON value serializes");
    line.push(b'\n');
    Bytes::from(line)
}

enum StreamEnd {
    ClientGone,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for StreamEnd {
    fn from(e: anyhow::Error) -> Self {
        StreamEnd::Failed(e)
    }
}

/// What the client has been sent in full: whole pages only, so that a
/// resume cursor never points into the middle of a page.
struct Progress {
    rows: i64,
    after: Option<Vec<String>>,
}

async fn produce(
    job: &StreamJob,
    tx: &mpsc::Sender<Chunk>,
    progress: &mut Progress,
) -> Result<(), StreamEnd> {
    let ds = job
        .catalog
        .get(&job.spec.dataset)
        .expect("the spec's dataset is in the catalog");
    let src = connect_source(&job.source_url, &job.spec.timezone, job.statement_timeout).await?;
    let query = PageQuery::new(ds, &job.spec, &job.tenant);
    // The stream, like an export, stops at the last key present now, so it
    // ends even while rows are being inserted.
    let high_water = src.key_row(&query.high_water()).await?;
    let mut framer =
        (job.spec.format == Format::Ndjson).then(|| JsonFramer::new(JsonLayout::Lines, 0));
    let mut header_pending = job.spec.header && framer.is_none();
    if let Some(upto) = &high_water {
        loop {
            let bound_sql = query.bound(progress.after.as_deref(), upto, job.page_rows);
            let Some(bound) = src.page_bound(&bound_sql).await? else {
                break;
            };
            let copy_sql = query.copy(
                progress.after.as_deref(),
                Some(&bound.last_key),
                header_pending,
            );
            header_pending = false;
            forward(&src, &copy_sql, &mut framer, tx).await?;
            progress.rows += bound.rows;
            progress.after = Some(bound.last_key);
        }
    }
    if header_pending {
        let copy_sql = query.copy(progress.after.as_deref(), None, true);
        forward(&src, &copy_sql, &mut framer, tx).await?;
    }
    Ok(())
}

async fn forward(
    src: &SourceConn,
    copy_sql: &str,
    framer: &mut Option<JsonFramer>,
    tx: &mpsc::Sender<Chunk>,
) -> Result<(), StreamEnd> {
    let mut copy = pin!(src.copy_out(copy_sql).await?);
    let mut out = Vec::with_capacity(CHUNK_BYTES * 2);
    while let Some(chunk) = copy.try_next().await? {
        match framer {
            Some(f) => f.feed(&chunk, &mut out),
            None => out.extend_from_slice(&chunk),
        }
        if out.len() >= CHUNK_BYTES {
            send(tx, &mut out).await?;
        }
    }
    // Whole pages reach the client before the next page's query runs.
    if !out.is_empty() {
        send(tx, &mut out).await?;
    }
    Ok(())
}

async fn send(tx: &mpsc::Sender<Chunk>, out: &mut Vec<u8>) -> Result<(), StreamEnd> {
    let chunk = Bytes::from(std::mem::replace(out, Vec::with_capacity(CHUNK_BYTES * 2)));
    tx.send(Ok(chunk)).await.map_err(|_| StreamEnd::ClientGone)
}
