//! The webhook outbox (filled by a trigger when an export ends). Deliverers
//! in any number of processes claim due rows with SKIP LOCKED and push their
//! next attempt forward while they work, so a delivery is never sent twice
//! at once and a deliverer that dies mid-POST is retried by another.

use super::MetaDb;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The Postgres channel the outbox trigger notifies.
pub const WEBHOOK_CHANNEL: &str = "haul_webhooks";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub export_id: Uuid,
    pub url: String,
    pub status: String,
    /// Attempts made before this one.
    pub attempts: i32,
}

impl MetaDb {
    /// Claims up to `limit` due deliveries for `hold`: nobody else picks them
    /// until then, which bounds a delivery's own timeout.
    pub async fn claim_webhooks(
        &self,
        limit: i64,
        hold: std::time::Duration,
    ) -> sqlx::Result<Vec<Delivery>> {
        sqlx::query_as(
            "UPDATE haul.webhook_deliveries d
                SET next_attempt_at = now() + make_interval(secs => $2)
              WHERE d.id IN (SELECT id FROM haul.webhook_deliveries
                              WHERE delivered_at IS NULL AND abandoned_at IS NULL
                                AND next_attempt_at <= now()
                              ORDER BY next_attempt_at
                              LIMIT $1
                              FOR UPDATE SKIP LOCKED)
          RETURNING d.id, d.export_id, d.url, d.status, d.attempts",
        )
        .bind(limit)
        .bind(hold.as_secs_f64())
        .fetch_all(&self.pool)
        .await
    }

    pub async fn webhook_delivered(&self, id: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE haul.webhook_deliveries
                SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
              WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or abandoned if `None`.
    pub async fn webhook_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE haul.webhook_deliveries
                SET attempts = attempts + 1, last_error = $2,
                    next_attempt_at = coalesce($3, next_attempt_at),
                    abandoned_at = CASE WHEN $3 IS NULL THEN now() END
              WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .bind(retry_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
