//! The API's JSON shapes (API.md, "Exports"), kept independent of the server
//! crates so that the client stays small.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The body of `POST /v1/exports`; only `dataset` is required, and unset
/// fields are left out so the server's defaults apply.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ExportRequest {
    pub dataset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// `{"column": {"op": value}}`, passed through as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

impl ExportRequest {
    pub fn new(dataset: impl Into<String>) -> Self {
        Self {
            dataset: dataset.into(),
            ..Self::default()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Expired,
    /// A status this client does not know yet (a newer server).
    #[serde(other)]
    Unknown,
}

impl Status {
    /// No further change will happen without a new request.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The export resource.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Export {
    pub id: Uuid,
    pub dataset: String,
    pub format: String,
    pub compression: String,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub progress: Progress,
    pub result: Option<ExportResult>,
    pub error: Option<ErrorInfo>,
    pub links: Links,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub rows: u64,
    pub bytes: u64,
    pub rows_estimate: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportResult {
    pub rows: u64,
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the exact bytes a client downloads.
    pub sha256: String,
    pub content_type: String,
    pub filename: String,
    pub next_since: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    /// Absolute, signed and expiring: it works pasted into a browser.
    pub download: Option<String>,
}

/// One page of `GET /v1/exports`, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportPage {
    pub exports: Vec<Export>,
    pub next_cursor: Option<String>,
}

/// Query of `GET /v1/exports`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ListQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_leaves_out_unset_fields() {
        let mut req = ExportRequest::new("events");
        req.columns = Some(vec!["id".into()]);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"dataset": "events", "columns": ["id"]})
        );
    }

    #[test]
    fn resource_parses_and_unknown_status_is_tolerated() {
        let export: Export = serde_json::from_value(json!({
            "id": "0192f7c2-0000-7000-8000-000000000000",
            "dataset": "events", "format": "csv", "compression": "none",
            "status": "archived",
            "created_at": "2024-01-01T00:00:00Z", "started_at": null,
            "finished_at": null, "expires_at": null,
            "progress": {"rows": 0, "bytes": 0, "rows_estimate": null},
            "result": null, "error": null,
            "links": {"self": "/v1/exports/0192f7c2-0000-7000-8000-000000000000", "download": null}
        }))
        .unwrap();
        assert_eq!(export.status, Status::Unknown);
        assert!(export.status.is_terminal());
    }
}
