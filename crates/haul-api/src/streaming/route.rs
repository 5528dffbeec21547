//! The handler: authenticate, validate everything before the `200` goes out
//! (after it, errors can only travel in-band), then stream.

use super::params;
use super::producer::{self, StreamJob};
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::routes::exports::check_against_source;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, http::header, web};
use haul_core::Format;
use haul_core::format::content_type;
use tokio_stream::wrappers::ReceiverStream;

/// Streams a dataset's rows in the response body, without S3.
#[utoipa::path(
    get,
    path = "/v1/datasets/{name}/rows",
    tag = "datasets",
    params(("name" = String, Path, description = "Dataset name"), params::RowsQuery),
    responses(
        (status = 200, description = "The rows, then an in-band end record", content(
            ("application/x-ndjson"), ("text/csv"), ("text/tab-separated-values"))),
        (status = 401, description = "Missing or unknown API key (`unauthorized`)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query (`invalid-query`, `invalid-filter`, `dataset-not-found`, ...)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`; see Retry-After", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn stream_rows(
    state: web::Data<AppState>,
    tenant: Tenant,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let request = params::parse(
        req.query_string(),
        &name,
        &state.catalog,
        &state.signer,
        &tenant.0,
    )?;
    check_against_source(&state, &request.spec).await?;
    if let Some(after) = &request.after {
        check_after(&state, &request.spec.dataset, after).await?;
    }
    let format = request.spec.format;
    let job = StreamJob {
        source_url: state.settings.source_url().to_string(),
        statement_timeout: state.settings.source.statement_timeout.0,
        page_rows: state.settings.worker.page_rows,
        catalog: state.catalog.clone(),
        signer: state.signer.clone(),
        tenant: tenant.0.clone(),
        spec: request.spec,
        after: request.after,
    };
    let body = ReceiverStream::new(producer::start(job));
    let mut response = HttpResponse::Ok();
    response
        .content_type(format!(
            "{}; charset=utf-8",
            content_type(format, haul_core::Compression::None)
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Proxies such as nginx would otherwise buffer the whole stream.
        .insert_header(("X-Accel-Buffering", "no"));
    if format == Format::Ndjson {
        response.insert_header(("Haul-Stream-End", "@haul"));
    }
    Ok(response.streaming(body))
}

/// Each `after` value must be a valid value of its key column.
async fn check_after(state: &AppState, dataset: &str, after: &[String]) -> Result<(), ApiError> {
    let ds = state.catalog.get(dataset).expect("the dataset was checked");
    for (column, value) in ds.key_columns().into_iter().zip(after) {
        if !state.source.converts_to(value, &column.type_name).await? {
            return Err(ApiError::unprocessable(
                "invalid-after",
                format!(
                    "after: `{value}` is not a valid {} (key column `{}`)",
                    column.type_name, column.name
                ),
            ));
        }
    }
    Ok(())
}
