//! The apalis side: the job handler, the queue's storage and the monitor
//! that runs workers until shutdown.

use crate::context::WorkerContext;
use crate::run::{JobOutcome, run_export};
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use haul_db::queue::{EXPORT_QUEUE, ExportJob};
use std::time::Duration;

/// A source session no export used for this long is closed.
const SOURCE_SESSION_IDLE: Duration = Duration::from_secs(60);

/// How often an idle worker also polls, besides LISTEN/NOTIFY on inserts:
/// jobs handed back by an UPDATE fire no notification.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

async fn handle(job: ExportJob, ctx: Data<WorkerContext>) -> Result<(), BoxDynError> {
    let started = std::time::Instant::now();
    let outcome = run_export(&ctx, job.export_id).await;
    let label = match &outcome {
        Ok(JobOutcome::Finished) => "finished",
        Ok(JobOutcome::HandBack) => "handed_back",
        Err(_) => "error",
    };
    haul_core::metrics::JOB_SECONDS
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    match outcome {
        Ok(JobOutcome::Finished) => Ok(()),
        // DeferredError puts the job back to Pending for immediate re-claim.
        Ok(JobOutcome::HandBack) => {
            Err(DeferredError::new("worker shutting down; export handed back").into())
        }
        Err(e) => {
            tracing::error!(export_id = %job.export_id, error = %format!("{e:#}"), "export job failed; the queue will retry it");
            Err(e.into())
        }
    }
}

fn queue_config(ctx: &WorkerContext) -> Config {
    let w = &ctx.settings.worker;
    let heartbeat = w.heartbeat.0.max(Duration::from_secs(1));
    // apalis declares a worker dead after this many missed heartbeats.
    let missed = w.orphan_after.0.as_secs_f64() / heartbeat.as_secs_f64();
    Config::default()
        .queue(EXPORT_QUEUE)
        .batch_size(w.concurrency)
        .heartbeat_interval(heartbeat)
        .missed_heartbeats(missed.ceil().max(1.0) as usize)
}

/// Runs export workers until `ctx.shutdown` is cancelled, then waits up to
/// `worker.shutdown_grace` for running exports to checkpoint and hand back.
pub async fn run_workers(ctx: WorkerContext) -> anyhow::Result<()> {
    let storage = PostgresStorage::<ExportJob>::new(&ctx.meta.pool)
        .with_config(queue_config(&ctx))
        .with_pubsub()
        .poll_with_interval(POLL_INTERVAL);
    // Unique per process: apalis strands jobs of a crashed worker whose name
    // is reused while the orphan window is open.
    let name = format!("haul-worker-{}", uuid::Uuid::now_v7());
    let concurrency = ctx.settings.worker.concurrency;
    let grace = ctx.settings.worker.shutdown_grace.0;
    let shutdown = ctx.shutdown.clone();
    tracing::info!(worker = %name, concurrency, "export worker started");
    let sweeper = tokio::spawn(crate::sweeper::run_sweeper(ctx.clone()));
    let idle_sources = tokio::spawn(close_idle_sources(ctx.clone()));
    let monitor = Monitor::new()
        .register(move |_restarts| {
            WorkerBuilder::new(name.as_str())
                .backend(storage.clone())
                .data(ctx.clone())
                .concurrency(concurrency)
                .catch_panic()
                .parallelize(tokio::spawn)
                .build(handle)
        })
        .should_restart(|_ctx, err| {
            tracing::error!(error = %err, "export worker stopped with an error; restarting it");
            true
        })
        .shutdown_timeout(grace)
        .run_with_signal(async move {
            shutdown.cancelled().await;
            Ok(())
        })
        .await;
    sweeper.abort();
    idle_sources.abort();
    monitor?;
    tracing::info!("export worker stopped");
    Ok(())
}

async fn close_idle_sources(ctx: WorkerContext) {
    let mut tick = tokio::time::interval(SOURCE_SESSION_IDLE / 2);
    loop {
        tick.tick().await;
        let closed = ctx.sources.close_idle(SOURCE_SESSION_IDLE);
        if closed > 0 {
            tracing::debug!(closed, "closed idle source sessions");
        }
    }
}
