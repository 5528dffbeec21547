//! `/v1/exports`: create, read, list and cancel exports.

use crate::auth::Tenant;
use crate::error::{ApiError, Problem};
use crate::resource::{ExportResource, self_path};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, http::StatusCode, http::header, web};
use haul_core::limits::IDEMPOTENCY_KEY_MAX_LEN;
use haul_core::{ExportRequest, ExportSpec, Status};
use haul_db::meta::exports::IDEMPOTENCY_WINDOW_HOURS;
use haul_db::meta::{ExportRow, NewExport, Queued};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Seconds a client over its quota is told to wait before trying again.
const QUOTA_RETRY_AFTER_SECS: u64 = 30;

/// Starts an export of a declared dataset.
#[utoipa::path(
    post,
    path = "/v1/exports",
    tag = "exports",
    request_body(content = ExportRequest, content_type = "application/json"),
    params(
        ("Idempotency-Key" = Option<String>, Header,
         description = "Up to 255 characters; the same key and body within 24 h answer the same export (200)")
    ),
    responses(
        (status = 202, description = "Export queued", body = ExportResource,
         headers(("Location" = String, description = "/v1/exports/{id}"))),
        (status = 200, description = "Replay of an earlier request with the same Idempotency-Key", body = ExportResource),
        (status = 400, description = "Malformed JSON (`malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over server.max_body (`body-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request: `invalid-request`, `dataset-not-found`, `column-not-found`, `column-not-filterable`, `invalid-filter-value`, `unknown-filter-operator`, `invalid-since`, `invalid-timezone`, `invalid-filename`, `too-many-columns`, `idempotency-key-reused`, ...", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too-many-active-exports` or `rate-limited`; see Retry-After", body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
pub async fn create_export(
    state: web::Data<AppState>,
    tenant: Tenant,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request = parse_body(&req, &body)?;
    let idempotency_key = idempotency_key(&req)?;
    let request_hash: [u8; 32] =
        Sha256::digest(serde_json::to_vec(&request).map_err(anyhow::Error::from)?).into();
    if let Some(key) = &idempotency_key
        && let Some(existing) = state.meta.export_by_idempotency_key(&tenant.0, key).await?
        && remembered(&existing)
    {
        return replay(&state, &existing, &request_hash);
    }
    let id = Uuid::now_v7();
    let spec = ExportSpec::from_request(
        &request,
        &state.catalog,
        &state.signer,
        &tenant.0,
        &id.to_string(),
    )?;
    check_against_source(&state, &spec).await?;
    if spec.callback_url.is_some() && state.settings.webhooks.signing_secret.is_none() {
        return Err(ApiError::unprocessable(
            "callbacks-disabled",
            "callback_url: this server has no webhooks.signing_secret, so it sends no callbacks",
        ));
    }

    let new = NewExport {
        id,
        tenant: &tenant.0,
        spec: &spec,
        idempotency_key: idempotency_key.as_deref(),
        request_hash: Some(&request_hash),
    };
    let max_active = state.settings.exports.max_active_per_tenant as i64;
    let row = match state.meta.queue_export(&new, max_active).await? {
        Queued::New(row) => row,
        // A concurrent request with the same key committed first.
        Queued::Earlier(existing) => return replay(&state, &existing, &request_hash),
        Queued::TenantAtLimit { active } => {
            return Err(ApiError::Client {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "too-many-active-exports",
                detail: format!(
                    "the tenant already has {active} queued or running exports (limit {max_active})"
                ),
                retry_after: Some(QUOTA_RETRY_AFTER_SECS),
            });
        }
    };
    tracing::info!(export_id = %id, tenant = %tenant.0, dataset = %spec.dataset, "export queued");
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, self_path(id)))
        .json(ExportResource::from_row(&state, &row)))
}

/// JSON only; malformed JSON is 400, well-formed JSON of the wrong shape
/// (unknown field, wrong type) is 422.
fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<ExportRequest, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!("Content-Type must be application/json, not `{content_type}`"),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let request: ExportRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() {
            // serde names unknown fields itself; the path names mistyped ones.
            let at = if path == "." {
                "body".to_string()
            } else {
                path
            };
            ApiError::unprocessable("invalid-request", format!("{at}: {inner}"))
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                format!("body is not valid JSON: {inner}"),
            )
        }
    })?;
    // Trailing garbage after the object is malformed JSON too.
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            format!("body is not valid JSON: {e}"),
        )
    })?;
    Ok(request)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= IDEMPOTENCY_KEY_MAX_LEN => Ok(Some(k.to_string())),
        _ => Err(ApiError::unprocessable(
            "invalid-idempotency-key",
            format!("Idempotency-Key: 1 to {IDEMPOTENCY_KEY_MAX_LEN} visible ASCII characters"),
        )),
    }
}

/// Idempotency keys are remembered for a window (API.md: 24 hours); after
/// that the key may name a new export.
fn remembered(existing: &ExportRow) -> bool {
    chrono::Utc::now() - existing.created_at
        < chrono::Duration::hours(IDEMPOTENCY_WINDOW_HOURS.into())
}

/// A repeated Idempotency-Key: the same body gets the original export (200),
/// another body is refused.
fn replay(
    state: &AppState,
    existing: &ExportRow,
    request_hash: &[u8; 32],
) -> Result<HttpResponse, ApiError> {
    if existing.request_hash.as_deref() != Some(request_hash.as_slice()) {
        return Err(ApiError::unprocessable(
            "idempotency-key-reused",
            "Idempotency-Key was already used with a different body",
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::LOCATION, self_path(existing.id)))
        .json(ExportResource::from_row(state, existing)))
}

/// Checks PostgreSQL alone can make: the time zone exists, and every filter
/// value is valid input for its column's type.
pub(crate) async fn check_against_source(
    state: &AppState,
    spec: &ExportSpec,
) -> Result<(), ApiError> {
    if spec.timezone != "UTC" && !state.source.is_timezone(&spec.timezone).await? {
        return Err(ApiError::unprocessable(
            "invalid-timezone",
            format!(
                "timezone: `{}` is not a time zone PostgreSQL knows",
                spec.timezone
            ),
        ));
    }
    let ds = state
        .catalog
        .get(&spec.dataset)
        .expect("the spec's dataset is in the catalog");
    for filter in &spec.filters {
        let column = ds
            .column(filter.column())
            .expect("filter columns were checked");
        for value in filter.values() {
            if !state.source.converts_to(value, &column.type_name).await? {
                return Err(ApiError::unprocessable(
                    "invalid-filter-value",
                    format!(
                        "filter.{}: `{value}` is not a valid {}",
                        column.name, column.type_name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// One export of the caller's tenant.
#[utoipa::path(
    get,
    path = "/v1/exports/{id}",
    tag = "exports",
    params(("id" = String, Path, description = "Export id (UUIDv7)")),
    responses(
        (status = 200, description = "The export", body = ExportResource),
        (status = 401, description = "Missing or unknown API key (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such export for this tenant (`export-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_export(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = export_id(&id)?;
    // Keyed by the id as announcements spell it, however the client does.
    let cache_key = id.to_string();
    let row = match state.status_cache.get(&cache_key) {
        // Another tenant's export looks missing, cached or not.
        Some(row) if row.tenant == tenant.0 => row,
        Some(_) => return Err(ApiError::not_found()),
        None => {
            let read_at = state.status_cache.generation();
            let row = find(&state, &tenant, id).await?;
            state.status_cache.put(&cache_key, row.clone(), read_at);
            row
        }
    };
    Ok(HttpResponse::Ok().json(ExportResource::from_row(&state, &row)))
}

/// A malformed id looks exactly like a missing export.
fn export_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

/// Another tenant's export looks exactly like a missing one.
async fn find(state: &AppState, tenant: &Tenant, id: Uuid) -> Result<ExportRow, ApiError> {
    state
        .meta
        .export_for(&tenant.0, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Cancels a queued or running export, or deletes a succeeded export's file.
#[utoipa::path(
    delete,
    path = "/v1/exports/{id}",
    tag = "exports",
    params(("id" = String, Path, description = "Export id (UUIDv7)")),
    responses(
        (status = 202, description = "Cancelling, cancelled or expired", body = ExportResource),
        (status = 401, description = "Missing or unknown API key (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such export for this tenant (`export-not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn delete_export(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &tenant, export_id(&id)?).await?;
    let row = match row.status() {
        Status::Queued | Status::Running => state
            .meta
            .request_cancel(&tenant.0, row.id)
            .await?
            .unwrap_or(row),
        Status::Succeeded => {
            if let Some(key) = &row.object_key {
                state
                    .storage
                    .delete(key)
                    .await
                    .map_err(anyhow::Error::from)?;
            }
            state.meta.mark_expired(row.id).await?;
            state
                .meta
                .export_for(&tenant.0, row.id)
                .await?
                .unwrap_or(row)
        }
        Status::Failed | Status::Cancelled | Status::Expired => row,
    };
    // This process's next poll sees the change without waiting for its
    // announcement.
    state.status_cache.forget(&row.id.to_string());
    Ok(HttpResponse::Accepted().json(ExportResource::from_row(&state, &row)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only exports with this status.
    #[param(pattern = "^(queued|running|succeeded|failed|cancelled|expired)$")]
    status: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of the tenant's exports, newest first.
#[derive(Serialize, ToSchema)]
pub struct ExportList {
    pub exports: Vec<ExportResource>,
    /// Cursor of the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Where the next page starts, bound to the tenant that listed it.
#[derive(Serialize, Deserialize)]
struct ListCursor {
    before: Uuid,
    #[serde(rename = "t")]
    tenant: String,
}

const LIST_CURSOR: &str = "list";
const LIST_DEFAULT_LIMIT: i64 = 50;
const LIST_MAX_LIMIT: i64 = 200;

/// The tenant's exports, newest first, keyset-paginated.
#[utoipa::path(
    get,
    path = "/v1/exports",
    tag = "exports",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = ExportList),
        (status = 401, description = "Missing or unknown API key (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-status`, `invalid-limit` or `invalid-cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_exports(
    state: web::Data<AppState>,
    tenant: Tenant,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = match &query.status {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid-status",
                format!("status: `{s}` is not an export status"),
            )
        })?),
    };
    let limit = query.limit.unwrap_or(LIST_DEFAULT_LIMIT);
    if !(1..=LIST_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid-limit",
            format!("limit: 1 to {LIST_MAX_LIMIT}"),
        ));
    }
    let before = match &query.cursor {
        None => None,
        Some(c) => {
            let cursor = state
                .signer
                .open::<ListCursor>(LIST_CURSOR, c)
                .ok()
                .filter(|cursor| cursor.tenant == tenant.0)
                .ok_or_else(|| {
                    ApiError::unprocessable("invalid-cursor", "cursor: not a cursor from this list")
                })?;
            Some(cursor.before)
        }
    };
    let mut rows = state
        .meta
        .list_exports(&tenant.0, status, before, limit + 1)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(state.signer.seal(
            LIST_CURSOR,
            &ListCursor {
                before: last.id,
                tenant: tenant.0.clone(),
            },
        )),
        _ => None,
    };
    let exports: Vec<_> = rows
        .iter()
        .map(|r| ExportResource::from_row(&state, r))
        .collect();
    Ok(HttpResponse::Ok().json(ExportList {
        exports,
        next_cursor,
    }))
}
