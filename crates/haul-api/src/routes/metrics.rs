//! `GET /metrics`: Prometheus text. Counters and histograms recorded in this
//! process (see `haul_core::metrics`), plus gauges read from Haul's database
//! at scrape time, so every API replica reports the same export counts.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use haul_core::Status;
use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// A worker's own `/metrics` (`worker.metrics_bind`): this process's
/// counters and histograms, without the database gauges the API serves.
pub async fn process_metrics() -> Result<HttpResponse, ApiError> {
    render(prometheus::gather())
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let counts = state.meta.status_counts().await?;
    let scrape = Registry::new();
    let by_status = IntGaugeVec::new(Opts::new("haul_exports", "Exports by status"), &["status"])
        .map_err(anyhow::Error::from)?;
    let queued = IntGauge::new(
        "haul_queue_depth",
        "Exports waiting for a worker (status queued)",
    )
    .map_err(anyhow::Error::from)?;
    for status in Status::ALL {
        let n = counts
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0, |(_, n)| *n);
        by_status.with_label_values(&[status.as_str()]).set(n);
        if status == Status::Queued {
            queued.set(n);
        }
    }
    scrape
        .register(Box::new(by_status))
        .map_err(anyhow::Error::from)?;
    scrape
        .register(Box::new(queued))
        .map_err(anyhow::Error::from)?;

    let mut families = prometheus::gather();
    families.extend(scrape.gather());
    render(families)
}

fn render(families: Vec<prometheus::proto::MetricFamily>) -> Result<HttpResponse, ApiError> {
    let mut body = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut body)
        .map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(body))
}
