//! `haul bench-encode`: an export's read and encode path (keyset pages,
//! JSON framing, compression, SHA-256) into a sink that drops the parts, so
//! a benchmark can tell Haul's own cost from S3's. It also times one full
//! page at the start of the key range and one at its end, the evidence that
//! keyset pages cost the same at any depth (OFFSET pages would not).

use crate::Services;
use anyhow::Context;
use futures::TryStreamExt;
use haul_core::{ExportRequest, ExportSpec, Settings, Signer};
use haul_db::source::sql::ident;
use haul_db::source::{PageQuery, SourceConn, connect_source};
use haul_worker::pipeline::encode_into;
use haul_worker::sink::DiscardSink;
use serde_json::json;
use std::pin::pin;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(clap::Args, Debug)]
pub struct BenchEncodeArgs {
    /// A dataset of the configuration.
    #[arg(long)]
    pub dataset: String,
    #[arg(long, default_value = "csv")]
    pub format: String,
    #[arg(long, default_value = "none")]
    pub compression: String,
    /// The tenant the export runs for (matters with tenant_column).
    #[arg(long, default_value = "bench")]
    pub tenant: String,
}

/// Prints one JSON object: rows, bytes, parts, seconds, sha256 and the
/// first/last page timings in milliseconds.
pub async fn run(settings: Settings, args: BenchEncodeArgs) -> anyhow::Result<()> {
    let services = Services::start(settings).await?;
    let signer = Signer::new(services.settings.auth.signing_secret.as_bytes());
    let request = ExportRequest {
        dataset: args.dataset.clone(),
        format: Some(args.format.clone()),
        compression: Some(args.compression.clone()),
        ..ExportRequest::default()
    };
    let spec =
        ExportSpec::from_request(&request, &services.catalog, &signer, &args.tenant, "bench")
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.detail))?;
    let ctx = services.worker_context(CancellationToken::new())?;
    let mut sink = DiscardSink::default();
    let started = Instant::now();
    let stats = encode_into(&ctx, &spec, &args.tenant, &mut sink)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let (first, last) = probe_pages(&services, &spec, &args.tenant).await?;
    println!(
        "{}",
        json!({
            "rows": stats.rows,
            "bytes": stats.bytes,
            "parts": sink.parts,
            "seconds": seconds,
            "sha256": stats.sha256,
            "first_page_ms": first.as_secs_f64() * 1000.0,
            "last_page_ms": last.as_secs_f64() * 1000.0,
        })
    );
    Ok(())
}

/// Median time of a full page (`worker.page_rows` rows: bound query plus
/// COPY, drained) at the start and at the end of the dataset.
async fn probe_pages(
    services: &Services,
    spec: &ExportSpec,
    tenant: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let ds = services.catalog.get(&spec.dataset).context("dataset")?;
    let src = connect_source(
        services.settings.source_url(),
        "UTC",
        services.settings.source.statement_timeout.0,
    )
    .await?;
    let query = PageQuery::new(ds, spec, tenant);
    let limit = services.settings.worker.page_rows;
    let Some(upto) = src.key_row(&query.high_water()).await? else {
        return Ok((Duration::ZERO, Duration::ZERO));
    };
    // Locating the last page uses OFFSET once, outside the timed part.
    let keys: Vec<String> = ds
        .key
        .iter()
        .map(|k| format!("{}::text", ident(k)))
        .collect();
    let order: Vec<String> = ds.key.iter().map(|k| ident(k)).collect();
    let locate = format!(
        "SELECT {} FROM {} ORDER BY {} DESC OFFSET {} LIMIT 1",
        keys.join(", "),
        ds.relation,
        order.join(" DESC, "),
        limit
    );
    let before_last = src.key_row(&locate).await?;
    let first = median_page(&src, &query, None, &upto, limit).await?;
    let last = median_page(&src, &query, before_last.as_deref(), &upto, limit).await?;
    Ok((first, last))
}

async fn median_page(
    src: &SourceConn,
    query: &PageQuery<'_>,
    after: Option<&[String]>,
    upto: &[String],
    limit: u32,
) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let bound = src
            .page_bound(&query.bound(after, upto, limit))
            .await?
            .context("a page exists")?;
        let copy_sql = query.copy(after, Some(&bound.last_key), false);
        let mut copy = pin!(src.copy_out(&copy_sql).await?);
        while copy.try_next().await?.is_some() {}
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}
