//! The export resource as clients see it (API.md, "The export resource").

use crate::auth::download_token;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use haul_core::{KeyCursor, Status};
use haul_db::meta::ExportRow;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportResource {
    /// UUIDv7.
    pub id: Uuid,
    pub dataset: String,
    pub format: String,
    pub compression: String,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled` or `expired`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub progress: Progress,
    pub result: Option<ExportResultView>,
    pub error: Option<ErrorView>,
    pub links: Links,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Progress {
    pub rows: i64,
    pub bytes: i64,
    pub rows_estimate: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportResultView {
    pub rows: i64,
    pub bytes: i64,
    /// Lowercase hex SHA-256 of the downloaded bytes.
    pub sha256: String,
    pub content_type: String,
    pub filename: String,
    /// Cursor for the next incremental export (`since`).
    pub next_since: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    /// Absolute URL with a signed, expiring token, once succeeded.
    pub download: Option<String>,
}

pub fn self_path(id: Uuid) -> String {
    format!("/v1/exports/{id}")
}

impl ExportResource {
    pub fn from_row(state: &AppState, row: &ExportRow) -> Self {
        let succeeded = row.status() == Status::Succeeded;
        let result = succeeded.then(|| ExportResultView {
            rows: row.rows,
            bytes: row.bytes,
            sha256: row.sha256.clone().unwrap_or_default(),
            content_type: row.content_type.clone().unwrap_or_default(),
            filename: row.filename.clone().unwrap_or_default(),
            next_since: next_since(state, row),
        });
        let download = succeeded.then(|| {
            format!(
                "{}/v1/exports/{}/download?token={}",
                state.settings.server.public_url.trim_end_matches('/'),
                row.id,
                download_token(state, row.id, &row.tenant)
            )
        });
        let error = match (&row.error_code, &row.error_message) {
            (Some(code), message) => Some(ErrorView {
                code: code.clone(),
                message: message.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        Self {
            id: row.id,
            dataset: row.dataset.clone(),
            format: row.format.clone(),
            compression: row.compression.clone(),
            status: row.status.clone(),
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            expires_at: row.expires_at,
            progress: Progress {
                rows: row.rows,
                bytes: row.bytes,
                rows_estimate: row.rows_estimate,
            },
            result,
            error,
            links: Links {
                this: self_path(row.id),
                download,
            },
        }
    }
}

/// The cursor for the next incremental export: the high-water key this
/// export stopped at, or the `since` it started from when the dataset held
/// no rows.
fn next_since(state: &AppState, row: &ExportRow) -> String {
    let key = row
        .high_water
        .clone()
        .or_else(|| row.spec.0.since.clone())
        .unwrap_or_default();
    KeyCursor {
        dataset: row.dataset.clone(),
        tenant: row.tenant.clone(),
        key,
    }
    .encode(&state.signer)
}
