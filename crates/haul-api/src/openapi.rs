//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the route
//! handlers' `#[utoipa::path]` annotations and the types they exchange.
//!
//! To document a new route, annotate its handler and add it to `paths(...)`
//! below; tests/tests/openapi.rs fails while a served route is missing here.

use crate::error::Problem;
use crate::resource::{ErrorView, ExportResource, ExportResultView, Links, Progress};
use crate::routes::{datasets, download, exports, metrics, ops};
use crate::streaming::route as streaming;
use actix_web::{HttpResponse, http::header};
use haul_core::ExportRequest;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Haul",
        description = "Exports PostgreSQL datasets to S3. Every error is application/problem+json (RFC 9457) with a stable `code`."
    ),
    paths(
        exports::create_export,
        exports::list_exports,
        exports::get_export,
        exports::delete_export,
        download::download,
        datasets::list_datasets,
        streaming::stream_rows,
        ops::healthz,
        ops::readyz,
        metrics::metrics,
        openapi_json,
    ),
    components(schemas(
        ExportRequest,
        ExportResource,
        ExportResultView,
        ErrorView,
        Links,
        Progress,
        exports::ExportList,
        datasets::DatasetList,
        Problem,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "exports", description = "Create, follow, list, download and cancel exports"),
        (name = "datasets", description = "What the operator made exportable"),
        (name = "operations", description = "Health, readiness and this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("An API key from `haul keys create`"))
                        .build(),
                ),
            );
    }
}

/// The document as served: built once, it never changes while running.
pub fn document() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serializes")
    })
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_openapi_3_1_with_problem_responses() {
        let doc: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let not_found = &doc["paths"]["/v1/exports/{id}"]["get"]["responses"]["404"];
        assert!(
            not_found["content"]["application/problem+json"].is_object(),
            "{not_found}"
        );
    }
}
