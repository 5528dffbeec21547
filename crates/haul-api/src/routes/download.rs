//! `GET /v1/exports/{id}/download`: a 303 to a freshly presigned S3 URL.

use crate::auth::{bearer, check_download_token, tenant_for_key};
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use haul_core::Status;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// Signed, expiring token from `links.download` (instead of a Bearer key).
    token: Option<String>,
}

/// Redirects to a freshly presigned S3 URL for the export's file.
#[utoipa::path(
    get,
    path = "/v1/exports/{id}/download",
    tag = "exports",
    params(("id" = String, Path, description = "Export id (UUIDv7)"), DownloadQuery),
    responses(
        (status = 303, description = "Location: a presigned S3 GET URL, new on every call",
         headers(("Location" = String), ("Cache-Control" = String, description = "no-store"))),
        (status = 401, description = "Neither key nor token (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Forged, altered, foreign or expired token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such export for this tenant (`export-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not succeeded (`export-not-ready`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired (`export-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<DownloadQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // A Bearer key wins when both are present: it is the stronger credential.
    let tenant = match (bearer(&req), &query.token) {
        (Some(key), _) => tenant_for_key(&state, &key)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))?,
        (None, Some(token)) => check_download_token(&state, token, id)?,
        (None, None) => {
            return Err(ApiError::unauthorized(
                "send a Bearer API key or the link's token",
            ));
        }
    };
    let row = state
        .meta
        .export_for(&tenant, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match row.status() {
        Status::Succeeded => {}
        Status::Expired => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "export-expired",
                "the export has expired and its file was deleted",
            ));
        }
        other => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "export-not-ready",
                format!(
                    "the export is {}; only a succeeded export can be downloaded",
                    other.as_str()
                ),
            ));
        }
    }
    let (Some(key), Some(filename), Some(content_type)) =
        (&row.object_key, &row.filename, &row.content_type)
    else {
        return Err(anyhow::anyhow!(
            "succeeded export {id} lacks its object key, filename or content type"
        )
        .into());
    };
    let url = state
        .storage
        .presign_get(
            key,
            filename,
            content_type,
            state.settings.download.url_ttl.0,
        )
        .await
        .map_err(anyhow::Error::from)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
