//! Part checkpoints: what a resumed export continues from.

use super::{LeaseLost, MetaDb};
use haul_encode::ResumableSha256;
use uuid::Uuid;

/// The state after one uploaded part.
#[derive(Debug, Clone)]
pub struct PartCheckpoint {
    pub part_number: i32,
    pub etag: String,
    /// Key of the last row in the part; `None` for a part that holds no rows
    /// (a header-only or empty file).
    pub cursor: Option<Vec<String>>,
    pub rows: i64,
    pub bytes: i64,
    pub sha: ResumableSha256,
    pub is_final: bool,
}

#[derive(sqlx::FromRow)]
struct PartRow {
    part_number: i32,
    etag: String,
    cursor: Option<Vec<String>>,
    rows: i64,
    bytes: i64,
    sha_state: sqlx::types::Json<ResumableSha256>,
    is_final: bool,
}

impl From<PartRow> for PartCheckpoint {
    fn from(r: PartRow) -> Self {
        Self {
            part_number: r.part_number,
            etag: r.etag,
            cursor: r.cursor,
            rows: r.rows,
            bytes: r.bytes,
            sha: r.sha_state.0,
            is_final: r.is_final,
        }
    }
}

impl MetaDb {
    /// Records an uploaded part and the export's progress in one transaction,
    /// only while `lease` still owns the export.
    pub async fn checkpoint(
        &self,
        id: Uuid,
        lease: Uuid,
        part: &PartCheckpoint,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let owned = sqlx::query(
            "UPDATE haul.exports SET rows = $3, bytes = $4 WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(lease)
        .bind(part.rows)
        .bind(part.bytes)
        .execute(&mut *tx)
        .await?;
        if owned.rows_affected() == 0 {
            return Err(LeaseLost(id).into());
        }
        sqlx::query(
            "INSERT INTO haul.export_parts (export_id, part_number, etag, cursor, rows, bytes, sha_state, is_final)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (export_id, part_number) DO UPDATE SET etag = EXCLUDED.etag, cursor = EXCLUDED.cursor,
                 rows = EXCLUDED.rows, bytes = EXCLUDED.bytes, sha_state = EXCLUDED.sha_state,
                 is_final = EXCLUDED.is_final",
        )
        .bind(id)
        .bind(part.part_number)
        .bind(&part.etag)
        .bind(&part.cursor)
        .bind(part.rows)
        .bind(part.bytes)
        .bind(sqlx::types::Json(&part.sha))
        .bind(part.is_final)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every checkpointed part, in order.
    pub async fn parts(&self, id: Uuid) -> anyhow::Result<Vec<PartCheckpoint>> {
        let rows: Vec<PartRow> = sqlx::query_as(
            "SELECT part_number, etag, cursor, rows, bytes, sha_state, is_final FROM haul.export_parts
             WHERE export_id = $1 ORDER BY part_number",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
