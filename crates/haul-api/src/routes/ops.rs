//! Liveness and readiness for orchestrators.

use crate::error::Problem;
use crate::state::AppState;
use actix_web::{HttpResponse, http::StatusCode, web};
use serde_json::json;

/// The process is up; checks nothing else, so it never flaps with a dependency.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Haul's database, the source database and S3 all answer.
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
