//! Process-wide Prometheus metrics that the worker and the API record. They
//! live in the default registry, which `GET /metrics` renders together with
//! the gauges it reads from the database at scrape time.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, register_histogram,
    register_histogram_vec, register_int_counter, register_int_counter_vec,
};
use std::sync::LazyLock;

/// Rows in the files of exports that succeeded in this process.
pub static ROWS_EXPORTED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "haul_rows_exported_total",
        "Rows written to the files of exports that succeeded"
    )
    .expect("metric registered once")
});

/// Bytes of the files (as stored, after compression) of succeeded exports.
pub static BYTES_EXPORTED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "haul_bytes_exported_total",
        "Bytes of the files of exports that succeeded, as stored"
    )
    .expect("metric registered once")
});

/// Time S3 takes to accept one part, or the whole object of a file that
/// fits in one part: the main cost an export waits on.
pub static PART_UPLOAD_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        HistogramOpts::new(
            "haul_part_upload_seconds",
            "Time to upload one part (or a one-part file's whole object) to S3"
        )
        .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0])
    )
    .expect("metric registered once")
});

/// Time a worker spent on a job, by how the job ended in this process.
pub static JOB_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        HistogramOpts::new(
            "haul_job_seconds",
            "Time a worker spent running one export job"
        )
        .buckets(vec![
            0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0
        ]),
        &["outcome"]
    )
    .expect("metric registered once")
});

/// Webhook delivery attempts, by result.
pub static WEBHOOK_DELIVERIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new("haul_webhook_deliveries_total", "Webhook delivery attempts"),
        &["result"]
    )
    .expect("metric registered once")
});

/// Registers every metric, so that `/metrics` lists them (at zero) before
/// the first export has run.
pub fn init() {
    LazyLock::force(&ROWS_EXPORTED);
    LazyLock::force(&BYTES_EXPORTED);
    LazyLock::force(&PART_UPLOAD_SECONDS);
    LazyLock::force(&JOB_SECONDS);
    LazyLock::force(&WEBHOOK_DELIVERIES);
}
