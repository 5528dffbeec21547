//! One attempt at an export: keyset pages from the source, encoded into
//! parts, uploaded with a bounded number in flight, checkpointed in order,
//! then completed and marked succeeded under the attempt's lease.

use crate::context::WorkerContext;
use crate::errors::JobError;
use crate::hash_chain::HashChain;
use crate::sessions::SourceSessions;
use crate::sink::PartSink;
use crate::uploader::{NewObject, Target, Uploader};
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use haul_core::format::content_type;
use haul_core::limits::S3_MAX_PART_SIZE;
use haul_core::{Compression, ExportSpec, Format};
use haul_db::meta::exports::ExportResult;
use haul_db::meta::{ExportRow, PartCheckpoint};
use haul_db::source::{PageBound, PageQuery, SourceConn};
use haul_encode::{Codec, JsonFramer, JsonLayout, PartWriter, ResumableSha256};
use haul_s3::{MultipartUpload, UploadedPart};
use std::pin::pin;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Rows in the first page of an attempt, before the row width is known: small,
/// so that a table of very wide rows cannot blow the memory bound on page one.
const FIRST_PAGE_ROWS: u32 = 64;

/// How often a running export looks up whether a client asked to cancel it.
/// API.md promises `cancelled` within a few seconds; a lookup per page would
/// cost small exports a query each for nothing.
const CANCEL_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Where the file stands after the last checkpointed part.
struct Position {
    next_part: i32,
    /// Key of the last row written; the next page starts after it.
    after: Option<Vec<String>>,
    rows: i64,
    bytes: i64,
    sha: HashChain,
}

pub async fn run_attempt(ctx: &WorkerContext, row: &ExportRow) -> Result<(), JobError> {
    let id = row.id;
    let lease = row.lease.expect("a claimed export has a lease");
    let spec = &row.spec.0;
    let ds = ctx.catalog.get(&spec.dataset).ok_or_else(|| {
        JobError::permanent(
            "dataset-unavailable",
            format!("dataset `{}` is no longer configured", spec.dataset),
        )
    })?;
    let sessions = SourceSessions::open(ctx, &spec.timezone).await?;
    let query = PageQuery::new(ds, spec, &row.tenant);

    let (target, high_water, resumed) = match (&row.upload_id, &row.object_key) {
        (Some(upload_id), Some(key)) => {
            let upload =
                MultipartUpload::resume(&ctx.storage.client, &ctx.storage.bucket, key, upload_id)
                    .sign_payload(!ctx.storage.over_tls);
            let resumed = ctx.meta.parts(id).await?;
            (Target::Multipart(upload), row.high_water.clone(), resumed)
        }
        _ => {
            let object = plan_object(ctx, row, sessions.first(), &query).await?;
            let hw = object.high_water.clone();
            (Target::Unopened(object), hw, Vec::new())
        }
    };
    let mut uploader = Uploader::new(
        target,
        ctx.meta.clone(),
        id,
        lease,
        ctx.settings.worker.parts_in_flight,
    );
    tracing::info!(
        attempt = row.attempt,
        upload_id = uploader.upload_id().unwrap_or("-"),
        resumed_parts = resumed.len(),
        resumed_rows = resumed.last().map_or(0, |p| p.rows),
        "export attempt started"
    );

    let last = resumed.last();
    let mut pos = Position {
        next_part: last.map_or(1, |p| p.part_number + 1),
        after: last.map_or_else(|| spec.since.clone(), |p| p.cursor.clone()),
        rows: last.map_or(0, |p| p.rows),
        bytes: last.map_or(0, |p| p.bytes),
        sha: HashChain::new(last.map_or_else(ResumableSha256::new, |p| p.sha.clone())),
    };
    uploader.done = resumed
        .iter()
        .map(|p| UploadedPart {
            part_number: p.part_number,
            etag: p.etag.clone(),
        })
        .collect();
    if !last.is_some_and(|p| p.is_final) {
        let mut pages = Pages {
            ctx,
            export: Some(id),
            spec,
            sessions: &sessions,
            query: &query,
            high_water: high_water.as_deref(),
            uploader: &mut uploader,
        };
        if let Err(e) = pages.write_rest(&mut pos).await {
            if matches!(e, JobError::Shutdown) {
                // Parts already on their way are worth their checkpoints: the
                // next worker then re-reads less. What does not make it in
                // time is abandoned and simply uploaded again.
                let finish = ctx.settings.worker.shutdown_grace.0 / 2;
                if tokio::time::timeout(finish, uploader.drain())
                    .await
                    .is_err()
                {
                    tracing::warn!("parts in flight did not finish in time; abandoning them");
                }
            }
            return Err(e);
        }
    }
    uploader.drain().await?;
    // The row stays locked from here until success is recorded: no other
    // attempt can claim the export while this one completes its upload, and
    // a stale attempt (lease lost) never gets to complete it.
    let locked = ctx.meta.lock_export(id, lease).await?;
    if locked.row.cancel_requested {
        return Err(JobError::Cancelled);
    }
    let object_key = uploader.finish(pos.bytes).await?;
    let expires_at = chrono::Utc::now() + ctx.settings.exports.ttl.0;
    let result = ExportResult {
        object_key,
        high_water: high_water.as_deref(),
        rows: pos.rows,
        bytes: pos.bytes,
        sha256: &pos.sha.current().await?.finalize_hex(),
        content_type: content_type(spec.format, spec.compression),
        filename: &spec.filename,
        expires_at,
    };
    locked.succeed(&result).await?;
    // Every page was read to its end, so the sessions are idle and clean.
    sessions.give_back();
    haul_core::metrics::ROWS_EXPORTED.inc_by(pos.rows as u64);
    haul_core::metrics::BYTES_EXPORTED.inc_by(pos.bytes as u64);
    tracing::info!(
        rows = pos.rows,
        bytes = pos.bytes,
        parts = uploader.done.len(),
        "export succeeded"
    );
    Ok(())
}

/// What the read and encode path produced, without S3 (`haul bench-encode`).
#[derive(Debug)]
pub struct EncodeStats {
    pub rows: i64,
    pub bytes: i64,
    pub sha256: String,
}

/// Runs an export's pages, framing, compression and hashing exactly as
/// `run_attempt` does, into `sink` instead of an upload.
pub async fn encode_into<S: PartSink>(
    ctx: &WorkerContext,
    spec: &ExportSpec,
    tenant: &str,
    sink: &mut S,
) -> Result<EncodeStats, JobError> {
    let ds = ctx
        .catalog
        .get(&spec.dataset)
        .ok_or_else(|| JobError::permanent("dataset-unavailable", "dataset is not configured"))?;
    let sessions = SourceSessions::open(ctx, &spec.timezone).await?;
    let query = PageQuery::new(ds, spec, tenant);
    let high_water = sessions.first().key_row(&query.high_water()).await?;
    let mut pos = Position {
        next_part: 1,
        after: spec.since.clone(),
        rows: 0,
        bytes: 0,
        sha: HashChain::new(ResumableSha256::new()),
    };
    let mut pages = Pages {
        ctx,
        export: None,
        spec,
        sessions: &sessions,
        query: &query,
        high_water: high_water.as_deref(),
        uploader: sink,
    };
    pages.write_rest(&mut pos).await?;
    Ok(EncodeStats {
        rows: pos.rows,
        bytes: pos.bytes,
        sha256: pos.sha.current().await?.finalize_hex(),
    })
}

/// First attempt: fix the high-water key and estimate the rows. Nothing goes
/// to S3 until the first part is cut (see `Uploader`), and both are recorded
/// with the multipart upload if the file needs one, else with its success.
async fn plan_object(
    ctx: &WorkerContext,
    row: &ExportRow,
    src: &SourceConn,
    query: &PageQuery<'_>,
) -> Result<NewObject, JobError> {
    let spec = &row.spec.0;
    let high_water = src.key_row(&query.high_water()).await?;
    let rows_estimate = match &high_water {
        Some(upto) => {
            src.estimate(&query.estimate(spec.since.as_deref(), Some(upto)))
                .await?
        }
        None => Some(0),
    };
    Ok(NewObject {
        storage: ctx.storage.clone(),
        key: ctx.object_key(row),
        content_type: content_type(spec.format, spec.compression),
        high_water,
        rows_estimate,
    })
}

/// A page whose extent is known and whose COPY has begun.
struct StartedPage<C> {
    bound: PageBound,
    /// The most rows the page could hold.
    limit: u32,
    copy: C,
}

impl<C> StartedPage<C> {
    /// A page short of its limit held every row up to the high-water key:
    /// there is no next page to look for.
    fn is_last(&self) -> bool {
        self.bound.rows < i64::from(self.limit)
    }
}

struct Pages<'a, S: PartSink> {
    ctx: &'a WorkerContext,
    /// The stored export, whose cancel flag is checked between pages;
    /// `None` when encoding for `haul bench-encode`.
    export: Option<Uuid>,
    spec: &'a ExportSpec,
    sessions: &'a SourceSessions<'a>,
    query: &'a PageQuery<'a>,
    high_water: Option<&'a [String]>,
    uploader: &'a mut S,
}

impl<S: PartSink> Pages<'_, S> {
    /// Writes every row after `pos`, cutting a part whenever the buffer
    /// reaches the part size, and the final part with the file's trailer.
    async fn write_rest(&mut self, pos: &mut Position) -> Result<(), JobError> {
        let spec = self.spec;
        let fresh = pos.next_part == 1;
        let layout = match spec.format {
            Format::Ndjson => Some(JsonLayout::Lines),
            Format::Json => Some(JsonLayout::Array),
            Format::Csv | Format::Tsv => None,
        };
        let mut framer = layout.map(|l| JsonFramer::new(l, pos.rows as u64));
        let mut writer = self.new_writer(pos.next_part);
        let mut scratch = Vec::new();
        if let (true, Some(f)) = (fresh, &framer) {
            f.start(&mut scratch);
            writer.write(&scratch);
        }
        let mut header_pending = fresh && spec.header && layout.is_none();
        let mut limit = FIRST_PAGE_ROWS.min(self.ctx.settings.worker.page_rows);
        // The two source sessions take turns: while one streams a page into
        // the file, the other finds the next page's extent and starts its
        // COPY, whose first rows wait in the socket until this page is
        // written. PostgreSQL never idles between pages.
        let mut second = false;
        let mut next = match self.high_water {
            Some(upto) => {
                self.start_page(
                    self.sessions.first(),
                    pos.after.as_deref(),
                    upto,
                    limit,
                    header_pending,
                )
                .await?
            }
            None => None,
        };
        if next.is_some() {
            header_pending = false;
        }
        // The attempt's claim has just read the cancel flag.
        let mut cancel_checked = Instant::now();
        self.check_stop(false).await?;
        while let (Some(upto), Some(started)) = (self.high_water, next.take()) {
            let is_last = started.is_last();
            let StartedPage { bound, copy, .. } = started;
            second = !second;
            let following = async {
                if !is_last {
                    let session = self.sessions.take_turn(second).await?;
                    self.start_page(session, Some(&bound.last_key), upto, limit, false)
                        .await
                } else {
                    Ok(None)
                }
            };
            // Cancellation is looked up while the page streams, too.
            let look_up_cancel = cancel_checked.elapsed() >= CANCEL_CHECK_INTERVAL;
            let (page_bytes, following, stop) = tokio::join!(
                self.copy_into(copy, &mut framer, &mut writer, &mut scratch),
                following,
                self.check_stop(look_up_cancel),
            );
            let page_bytes = page_bytes?;
            next = following?;
            stop?;
            if look_up_cancel {
                cancel_checked = Instant::now();
            }
            pos.rows += bound.rows;
            pos.after = Some(bound.last_key);
            limit = self.next_limit(page_bytes, bound.rows);
            if writer.len() as u64 >= self.part_target(pos.next_part) {
                let full = std::mem::replace(&mut writer, self.new_writer(pos.next_part + 1));
                self.cut(full, pos, false).await?;
            }
        }
        if header_pending {
            // No rows at all: the file is still a valid one with its header.
            let copy_sql = self.query.copy(pos.after.as_deref(), None, true);
            let page = self.sessions.first().copy_out(&copy_sql).await?;
            self.copy_into(page, &mut framer, &mut writer, &mut scratch)
                .await?;
        }
        if let Some(f) = &framer {
            scratch.clear();
            f.finish(&mut scratch);
            writer.write(&scratch);
        }
        // A file needs at least one part; an empty trailing writer is skipped
        // when earlier parts already hold every byte.
        if !writer.is_empty() || pos.next_part == 1 {
            self.cut(writer, pos, true).await?;
        }
        Ok(())
    }

    /// Finds the extent of the page after `after` on `session` and starts
    /// its COPY there; `None` when no rows are left.
    async fn start_page(
        &self,
        session: &SourceConn,
        after: Option<&[String]>,
        upto: &[String],
        limit: u32,
        header: bool,
    ) -> Result<Option<StartedPage<impl Stream<Item = anyhow::Result<Bytes>> + use<S>>>, JobError>
    {
        let bound_sql = self.query.bound(after, upto, limit);
        let Some(bound) = session.page_bound(&bound_sql).await? else {
            return Ok(None);
        };
        let copy_sql = self.query.copy(after, Some(&bound.last_key), header);
        let copy = session.copy_out(&copy_sql).await?;
        Ok(Some(StartedPage { bound, limit, copy }))
    }

    /// Streams one page's COPY into the part writer; returns the raw bytes read.
    async fn copy_into(
        &self,
        page: impl Stream<Item = anyhow::Result<Bytes>>,
        framer: &mut Option<JsonFramer>,
        writer: &mut PartWriter,
        scratch: &mut Vec<u8>,
    ) -> Result<u64, JobError> {
        let mut stream = pin!(page);
        let mut read = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            read += chunk.len() as u64;
            match framer {
                Some(f) => {
                    scratch.clear();
                    f.feed(&chunk, scratch);
                    writer.write(scratch);
                }
                None => writer.write(&chunk),
            }
        }
        Ok(read)
    }

    async fn cut(
        &mut self,
        writer: PartWriter,
        pos: &mut Position,
        is_final: bool,
    ) -> Result<(), JobError> {
        let max_parts = self.ctx.settings.worker.max_parts as i32;
        if pos.next_part > max_parts {
            return Err(JobError::permanent(
                "too-many-parts",
                format!("the export needs more than {max_parts} parts; raise worker.part_size"),
            ));
        }
        let body = Bytes::from(writer.finish());
        let sha = pos.sha.push(body.clone());
        pos.bytes += body.len() as i64;
        let checkpoint = PartCheckpoint {
            part_number: pos.next_part,
            etag: String::new(),
            cursor: pos.after.clone(),
            rows: pos.rows,
            bytes: pos.bytes,
            // Filled in from `sha` once the part is hashed.
            sha: ResumableSha256::new(),
            is_final,
        };
        pos.next_part += 1;
        self.uploader.push(body, checkpoint, sha).await
    }

    fn new_writer(&self, part_number: i32) -> PartWriter {
        let codec = match self.spec.compression {
            Compression::None => Codec::None,
            Compression::Gzip => Codec::Gzip,
            Compression::Zstd => Codec::Zstd,
        };
        PartWriter::new(
            codec,
            self.part_target(part_number) as usize + self.part_target(part_number) as usize / 4,
        )
    }

    /// The size at which part `n` is cut. It doubles every tenth of the part
    /// limit, so an export of any size fits in S3's 10,000 parts, while small
    /// exports keep small parts (and small memory). It depends only on `n`,
    /// so a resumed export cuts exactly where the first attempt would have.
    fn part_target(&self, n: i32) -> u64 {
        let w = &self.ctx.settings.worker;
        let step = (w.max_parts / 10).max(1) as i32;
        let doublings = ((n - 1).max(0) / step).min(20) as u32;
        (w.part_size.0 << doublings).min(S3_MAX_PART_SIZE)
    }

    /// Pages aim at a quarter of the base part size: large enough that the
    /// per-page round trips vanish, small enough that a part overshoots its
    /// target by at most a quarter.
    fn next_limit(&self, page_bytes: u64, rows: i64) -> u32 {
        let w = &self.ctx.settings.worker;
        let target = (w.part_size.0 / 4).max(1);
        let per_row = (page_bytes / rows.max(1) as u64).max(1);
        ((target / per_row) as u32).clamp(1, w.page_rows)
    }

    /// Between pages: a stopping worker ends the attempt, and so does a
    /// cancelled export when `look_up_cancel` asks for the flag.
    async fn check_stop(&self, look_up_cancel: bool) -> Result<(), JobError> {
        if self.ctx.shutdown.is_cancelled() {
            return Err(JobError::Shutdown);
        }
        if look_up_cancel
            && let Some(id) = self.export
            && self.ctx.meta.cancel_requested(id).await?
        {
            return Err(JobError::Cancelled);
        }
        Ok(())
    }
}
