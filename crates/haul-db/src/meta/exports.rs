//! The exports table: one row per export, the single source of truth for its
//! status, progress, result and the lease that fences its workers.

use super::{LeaseLost, MetaDb, read_twice};
use crate::queue::{EXPORT_QUEUE, JobRow, NEW_JOB_CHANNEL, QUEUE_MAX_ATTEMPTS};
use chrono::{DateTime, Utc};
use haul_core::{ExportSpec, Status};
use sqlx::{PgPool, Postgres, Transaction, types::Json};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    pub id: Uuid,
    pub tenant: String,
    pub dataset: String,
    pub format: String,
    pub compression: String,
    pub spec: Json<ExportSpec>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rows_estimate: Option<i64>,
    pub rows: i64,
    pub bytes: i64,
    pub attempt: i32,
    pub lease: Option<Uuid>,
    pub cancel_requested: bool,
    pub object_key: Option<String>,
    pub upload_id: Option<String>,
    pub high_water: Option<Vec<String>>,
    pub sha256: Option<String>,
    pub content_type: Option<String>,
    pub filename: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
}

impl ExportRow {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).expect("the status column is constrained to known values")
    }
}

pub struct NewExport<'a> {
    pub id: Uuid,
    pub tenant: &'a str,
    pub spec: &'a ExportSpec,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: Option<&'a [u8]>,
}

/// What `queue_export` did.
#[derive(Debug)]
pub enum Queued {
    /// The export is queued.
    New(ExportRow),
    /// Nothing new: an export made within `IDEMPOTENCY_WINDOW_HOURS` holds
    /// the idempotency key.
    Earlier(ExportRow),
    /// Nothing new: the tenant already has at least this many queued or
    /// running exports (counting stops at the limit).
    TenantAtLimit { active: i64 },
}

/// How long an idempotency key names its export (API.md); after that the
/// key may name a new one.
pub const IDEMPOTENCY_WINDOW_HOURS: i32 = 24;

/// The channel on which an export's status changes are announced, with
/// its id as the payload.
pub const EXPORT_CHANGES_CHANNEL: &str = "haul_export_changes";

/// The SQLSTATE `haul.queue_export` raises for a tenant at its limit.
const TENANT_AT_LIMIT: &str = "HL429";

/// What a finished upload reports.
pub struct ExportResult<'a> {
    /// Where the file is, and the high-water key its rows end at (the next
    /// `since`): an export written in one PutObject recorded no upload, so
    /// these are first recorded here.
    pub object_key: &'a str,
    pub high_water: Option<&'a [String]>,
    pub rows: i64,
    pub bytes: i64,
    pub sha256: &'a str,
    pub content_type: &'a str,
    pub filename: &'a str,
    pub expires_at: DateTime<Utc>,
}

impl MetaDb {
    /// Inserts a queued export and its job in one statement
    /// (`haul.queue_export`, migrations 4 and 5), under the tenant's lock,
    /// unless the idempotency key already names a recent export or the
    /// tenant is at `max_active` queued or running exports. A new job is
    /// then announced to the workers, without delaying the caller.
    pub async fn queue_export(
        &self,
        new: &NewExport<'_>,
        max_active: i64,
    ) -> anyhow::Result<Queued> {
        let job = JobRow::for_export(new.id)?;
        let result: Result<ExportRow, _> = sqlx::query_as(
            "SELECT * FROM haul.queue_export($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(new.id)
        .bind(new.tenant)
        .bind(&new.spec.dataset)
        .bind(new.spec.format.as_str())
        .bind(new.spec.compression.as_str())
        .bind(Json(new.spec))
        .bind(new.idempotency_key)
        .bind(new.request_hash)
        .bind(IDEMPOTENCY_WINDOW_HOURS)
        .bind(max_active)
        .bind(EXPORT_QUEUE)
        .bind(&job.id)
        .bind(&job.payload)
        .bind(QUEUE_MAX_ATTEMPTS)
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => Ok(if row.id == new.id {
                announce_job(&self.pool, &job.id);
                Queued::New(row)
            } else {
                Queued::Earlier(row)
            }),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(TENANT_AT_LIMIT) => {
                Ok(Queued::TenantAtLimit {
                    active: e.message().parse()?,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's export, or `None` (also for another tenant's id).
    pub async fn export_for(&self, tenant: &str, id: Uuid) -> anyhow::Result<Option<ExportRow>> {
        read_twice(|| {
            sqlx::query_as("SELECT * FROM haul.exports WHERE id = $1 AND tenant = $2")
                .bind(id)
                .bind(tenant)
                .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn export_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> anyhow::Result<Option<ExportRow>> {
        read_twice(|| {
            sqlx::query_as("SELECT * FROM haul.exports WHERE tenant = $1 AND idempotency_key = $2")
                .bind(tenant)
                .bind(key)
                .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn export(&self, id: Uuid) -> anyhow::Result<Option<ExportRow>> {
        Ok(sqlx::query_as("SELECT * FROM haul.exports WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Takes ownership of a queued or running export for a new attempt: bumps
    /// the attempt, draws a fresh lease (fencing out any earlier holder) and
    /// marks it running. `None` when it is no longer runnable. A running
    /// export with a pending cancel is claimed too, so that the new holder
    /// can abort its upload and end it (its earlier worker may have died).
    pub async fn claim_export(&self, id: Uuid) -> anyhow::Result<Option<ExportRow>> {
        let claimed: Option<ExportRow> = sqlx::query_as(
            "UPDATE haul.exports
                SET status = 'running', attempt = attempt + 1, lease = gen_random_uuid(),
                    started_at = coalesce(started_at, now())
              WHERE id = $1 AND status IN ('queued', 'running')
              RETURNING *",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        if claimed.is_some() {
            announce_change(&self.pool, id);
        }
        Ok(claimed)
    }

    /// Records the multipart upload and the fixed high-water key of a first attempt.
    pub async fn record_upload(
        &self,
        id: Uuid,
        lease: Uuid,
        object_key: &str,
        upload_id: &str,
        high_water: Option<&[String]>,
        rows_estimate: Option<i64>,
    ) -> anyhow::Result<()> {
        let done = sqlx::query(
            "UPDATE haul.exports SET object_key = $3, upload_id = $4, high_water = $5,
                    rows_estimate = coalesce($6, rows_estimate)
              WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(lease)
        .bind(object_key)
        .bind(upload_id)
        .bind(high_water)
        .bind(rows_estimate)
        .execute(&self.pool)
        .await?;
        fenced(done.rows_affected(), id)
    }

    /// Locks the export row for the attempt holding `lease`, or fails with
    /// [`LeaseLost`]. Until the lock is released (by [`LockedExport::succeed`],
    /// [`LockedExport::end`] or dropping it), no other attempt can claim the
    /// export and no cancel request can slip in, so whatever the holder does
    /// to the upload meanwhile (complete it, abort it) belongs to the outcome
    /// it then records.
    pub async fn lock_export(&self, id: Uuid, lease: Uuid) -> anyhow::Result<LockedExport> {
        let mut tx = self.pool.begin().await?;
        let row: Option<ExportRow> = sqlx::query_as(
            "SELECT * FROM haul.exports WHERE id = $1 AND lease = $2 AND status = 'running' FOR UPDATE",
        )
        .bind(id)
        .bind(lease)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some(row) => Ok(LockedExport {
                tx,
                row,
                lease,
                pool: self.pool.clone(),
            }),
            None => Err(LeaseLost(id).into()),
        }
    }

    /// Marks success, only for the current lease.
    pub async fn succeed_export(
        &self,
        id: Uuid,
        lease: Uuid,
        r: &ExportResult<'_>,
    ) -> anyhow::Result<()> {
        self.lock_export(id, lease).await?.succeed(r).await
    }

    /// Ends an attempt as failed or cancelled, only for the current lease.
    pub async fn end_export(
        &self,
        id: Uuid,
        lease: Uuid,
        status: Status,
        error: Option<(&str, &str)>,
        upload_open: bool,
    ) -> anyhow::Result<()> {
        self.lock_export(id, lease)
            .await?
            .end(status, error, upload_open)
            .await
    }

    /// Hands a running export back to the queue without counting this
    /// attempt: a deploy is not the export's fault, so rolling restarts never
    /// exhaust `worker.max_attempts`. Clearing the lease fences out whatever
    /// of the stopping attempt is still in flight. A lease already lost
    /// leaves nothing to release.
    pub async fn release_export(&self, id: Uuid, lease: Uuid) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE haul.exports SET lease = NULL, attempt = attempt - 1
              WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(lease)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether a client asked to cancel this export.
    pub async fn cancel_requested(&self, id: Uuid) -> anyhow::Result<bool> {
        Ok(
            sqlx::query_scalar("SELECT cancel_requested FROM haul.exports WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(true),
        )
    }
}

/// An export row locked by the attempt that holds its lease; see
/// [`MetaDb::lock_export`].
pub struct LockedExport {
    tx: Transaction<'static, Postgres>,
    /// The row as locked: current upload, cancel flag and all.
    pub row: ExportRow,
    lease: Uuid,
    /// For the announcement once the change is committed.
    pool: PgPool,
}

impl LockedExport {
    /// Marks success and releases the lock. The statement checks the lease
    /// itself, so a stale worker's completion is rejected where it would be
    /// recorded. A one-part file recorded no estimate of its rows: its count
    /// stands in.
    pub async fn succeed(mut self, r: &ExportResult<'_>) -> anyhow::Result<()> {
        let done = sqlx::query(
            "UPDATE haul.exports
                SET status = 'succeeded', finished_at = now(), rows = $3, bytes = $4, sha256 = $5,
                    content_type = $6, filename = $7, expires_at = $8, object_key = $9,
                    high_water = $10, rows_estimate = coalesce(rows_estimate, $3),
                    upload_id = NULL, lease = NULL
              WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(self.row.id)
        .bind(self.lease)
        .bind(r.rows)
        .bind(r.bytes)
        .bind(r.sha256)
        .bind(r.content_type)
        .bind(r.filename)
        .bind(r.expires_at)
        .bind(r.object_key)
        .bind(r.high_water)
        .execute(&mut *self.tx)
        .await?;
        self.commit(done.rows_affected()).await
    }

    /// Ends the attempt as failed or cancelled and releases the lock.
    /// `upload_open` keeps the upload id when aborting it did not succeed,
    /// so the sweeper can retry the abort.
    pub async fn end(
        mut self,
        status: Status,
        error: Option<(&str, &str)>,
        upload_open: bool,
    ) -> anyhow::Result<()> {
        let done = sqlx::query(
            "UPDATE haul.exports
                SET status = $3, finished_at = now(), error_code = $4, error_message = $5, lease = NULL,
                    upload_id = CASE WHEN $6 THEN upload_id END
              WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(self.row.id)
        .bind(self.lease)
        .bind(status.as_str())
        .bind(error.map(|e| e.0))
        .bind(error.map(|e| e.1))
        .bind(upload_open)
        .execute(&mut *self.tx)
        .await?;
        self.commit(done.rows_affected()).await
    }

    /// Commits and announces the ending just written, unless its UPDATE
    /// matched no row (the lease was lost meanwhile). Either way the lock
    /// is released.
    async fn commit(self, updated: u64) -> anyhow::Result<()> {
        fenced(updated, self.row.id)?;
        self.tx.commit().await?;
        announce_change(&self.pool, self.row.id);
        Ok(())
    }
}

/// Tells listening workers (apalis's channel and payload) that a committed
/// job is due; see migration 5 for why not in the transaction that queued
/// it. A worker that misses it still finds the job at its next poll.
fn announce_job(pool: &PgPool, job_id: &str) {
    let payload = serde_json::json!({"job_type": EXPORT_QUEUE, "id": job_id}).to_string();
    announce(pool, NEW_JOB_CHANNEL, payload);
}

/// Tells API processes that an export's status changed, so that they stop
/// answering polls from what they cached (`server.status_cache_ttl`).
fn announce_change(pool: &PgPool, id: Uuid) {
    announce(pool, EXPORT_CHANGES_CHANNEL, id.to_string());
}

/// Sends a notification in a transaction of its own, after the change it
/// announces has committed, without delaying the caller. PostgreSQL commits
/// notifying transactions one at a time, each holding a global lock until
/// its commit is on disk; a transaction that only notifies writes nothing to
/// flush, so it holds that lock only for a moment. Best effort: every
/// listener also polls or expires what it holds.
fn announce(pool: &PgPool, channel: &'static str, payload: String) {
    let pool = pool.clone();
    tokio::spawn(async move {
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(&payload)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(channel, payload, error = %e, "could not send a notification");
        }
    });
}

fn fenced(rows_affected: u64, id: Uuid) -> anyhow::Result<()> {
    if rows_affected == 0 {
        Err(LeaseLost(id).into())
    } else {
        Ok(())
    }
}

impl MetaDb {
    /// The tenant's exports, newest first (UUIDv7 ids sort by creation time),
    /// starting after `before` for keyset pagination.
    pub async fn list_exports(
        &self,
        tenant: &str,
        status: Option<Status>,
        before: Option<Uuid>,
        limit: i64,
    ) -> anyhow::Result<Vec<ExportRow>> {
        read_twice(|| {
            sqlx::query_as(
                "SELECT * FROM haul.exports
                  WHERE tenant = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3)
                  ORDER BY id DESC LIMIT $4",
            )
            .bind(tenant)
            .bind(status.map(Status::as_str))
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
        })
        .await
    }

    /// Cancels a queued export outright, or flags a running one for its
    /// worker to stop at the next page or part. Returns the row afterwards.
    pub async fn request_cancel(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> anyhow::Result<Option<ExportRow>> {
        sqlx::query(
            "UPDATE haul.exports
                SET cancel_requested = true,
                    status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
                    finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END
              WHERE id = $1 AND tenant = $2 AND status IN ('queued', 'running')",
        )
        .bind(id)
        .bind(tenant)
        .execute(&self.pool)
        .await?;
        announce_change(&self.pool, id);
        self.export_for(tenant, id).await
    }

    /// Marks a succeeded export expired once its object is deleted.
    pub async fn mark_expired(&self, id: Uuid) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE haul.exports SET status = 'expired' WHERE id = $1 AND status = 'succeeded'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        announce_change(&self.pool, id);
        Ok(())
    }
}

/// An export whose S3 object or upload the sweeper must clean up.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Leftover {
    pub id: Uuid,
    pub object_key: Option<String>,
    pub upload_id: Option<String>,
}

/// An arbitrary constant: the advisory lock that gives one sweeper at a time
/// its turn.
const SWEEP_LOCK: i64 = 0x0068_6175_6c73_7770; // "haulswp"

impl MetaDb {
    /// The sweeper's turn, held until the returned transaction ends (or its
    /// connection dies with the process). `None` while another process
    /// sweeps: many workers then do not repeat the same S3 calls.
    pub async fn try_sweep_turn(&self) -> anyhow::Result<Option<Transaction<'static, Postgres>>> {
        let mut tx = self.pool.begin().await?;
        let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SWEEP_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        Ok(mine.then_some(tx))
    }
}

impl MetaDb {
    /// Failed or cancelled exports whose upload could not be aborted yet.
    pub async fn unaborted_uploads(&self, limit: i64) -> anyhow::Result<Vec<Leftover>> {
        Ok(sqlx::query_as(
            "SELECT id, object_key, upload_id FROM haul.exports
              WHERE status IN ('failed', 'cancelled', 'expired') AND upload_id IS NOT NULL
              ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn clear_upload(&self, id: Uuid, upload_id: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE haul.exports SET upload_id = NULL WHERE id = $1 AND upload_id = $2")
            .bind(id)
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Succeeded exports past their `expires_at`.
    pub async fn expired_exports(&self, limit: i64) -> anyhow::Result<Vec<Leftover>> {
        Ok(sqlx::query_as(
            "SELECT id, object_key, upload_id FROM haul.exports
              WHERE status = 'succeeded' AND expires_at < now() ORDER BY expires_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether a queued or running export owns this multipart upload.
    pub async fn owns_upload(&self, upload_id: &str) -> anyhow::Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM haul.exports WHERE upload_id = $1 AND status IN ('queued', 'running'))",
        )
        .bind(upload_id)
        .fetch_one(&self.pool)
        .await?)
    }
}

impl MetaDb {
    /// Exports per status, over every tenant (for `/metrics`).
    pub async fn status_counts(&self) -> anyhow::Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT status, count(*) FROM haul.exports GROUP BY status")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
