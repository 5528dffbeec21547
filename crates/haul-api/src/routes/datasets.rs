//! `GET /v1/datasets`: what the operator has made exportable.

use crate::auth::Tenant;
use crate::error::Problem;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct DatasetList {
    pub datasets: Vec<DatasetView>,
}

#[derive(Serialize, ToSchema)]
pub struct DatasetView {
    pub name: String,
    pub key: Vec<String>,
    pub filterable: Vec<String>,
    pub columns: Vec<ColumnView>,
}

#[derive(Serialize, ToSchema)]
pub struct ColumnView {
    pub name: String,
    /// PostgreSQL's name for the column type.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// The datasets the operator declared, with their columns.
#[utoipa::path(
    get,
    path = "/v1/datasets",
    tag = "datasets",
    responses(
        (status = 200, description = "Every dataset", body = DatasetList),
        (status = 401, description = "Missing or unknown API key (`unauthorized`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate-limited`; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_datasets(state: web::Data<AppState>, _tenant: Tenant) -> HttpResponse {
    let datasets = state
        .catalog
        .iter()
        .map(|ds| DatasetView {
            name: ds.name.clone(),
            key: ds.key.clone(),
            filterable: ds.filterable.clone(),
            columns: ds
                .columns
                .iter()
                .filter_map(|c| ds.column(c))
                .map(|c| ColumnView {
                    name: c.name.clone(),
                    type_name: c.type_name.clone(),
                })
                .collect(),
        })
        .collect();
    HttpResponse::Ok().json(DatasetList { datasets })
}
