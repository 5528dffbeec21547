//! `GET /v1/datasets`: what the operator has made exportable.

use crate::auth::Tenant;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn list_datasets(state: web::Data<AppState>, _tenant: Tenant) -> HttpResponse {
    let datasets: Vec<_> = state
        .catalog
        .iter()
        .map(|ds| {
            let columns: Vec<_> = ds
                .columns
                .iter()
                .filter_map(|c| ds.column(c))
                .map(|c| json!({"name": c.name, "type": c.type_name}))
                .collect();
            json!({"name": ds.name, "key": ds.key, "filterable": ds.filterable, "columns": columns})
        })
        .collect();
    HttpResponse::Ok().json(json!({ "datasets": datasets }))
}
