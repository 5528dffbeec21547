//! Liveness and readiness for orchestrators.

use crate::error::Problem;
use crate::state::AppState;
use actix_web::{HttpResponse, http::StatusCode, web};
use serde_json::json;

/// `{"status": "ok"}` or `{"status": "ready"}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OpsStatus {
    pub status: String,
}

/// The process is up; checks nothing else, so it never flaps with a dependency.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = OpsStatus)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Haul's database, the source database and S3 all answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = OpsStatus),
        (status = 503, description = "A dependency is down (`not-ready`; detail names it)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (meta, source, s3) =
        tokio::join!(state.meta.ping(), state.source.ping(), state.storage.ping());
    let failures: Vec<String> = [
        meta.err().map(|e| format!("database: {e}")),
        source.err().map(|e| format!("source: {e}")),
        s3.err().map(|e| format!("s3: {e}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if failures.is_empty() {
        HttpResponse::Ok().json(json!({"status": "ready"}))
    } else {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            failures.join("; "),
        )
        .response()
    }
}
