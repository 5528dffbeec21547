//! Start-up: connect to Haul's database, check every dataset against the
//! source, build the S3 clients; then run the API, the workers, or both.

use anyhow::{Context, bail};
use haul_api::AppState;
use haul_api::announced_cache::{AnnouncedCache, follow_announcements};
use haul_core::{Catalog, Settings, Signer};
use haul_db::MetaDb;
use haul_db::meta::exports::EXPORT_CHANGES_CHANNEL;
use haul_db::meta::keys::KEY_CHANGES_CHANNEL;
use haul_db::source::{SourceChecker, SourcePool, connect_source, resolve_catalog};
use haul_s3::Storage;
use haul_worker::WorkerContext;
use std::net::TcpListener;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Keys are few (one or a handful per tenant); the bound only guards
/// against a flood of distinct valid keys.
const MAX_CACHED_KEYS: usize = 100_000;
/// Export rows cached for status polls: a few MB at most.
const MAX_CACHED_EXPORTS: usize = 10_000;

#[derive(Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    pub meta: MetaDb,
    pub storage: Storage,
    pub catalog: Arc<Catalog>,
}

impl Services {
    /// Connects and checks everything `serve` and `work` rely on, failing
    /// with a message that names the problem (and the dataset, if it is one).
    pub async fn start(settings: Settings) -> anyhow::Result<Self> {
        haul_core::metrics::init();
        let meta =
            MetaDb::connect(&settings.database.url, settings.database.max_connections).await?;
        ensure_migrated(&meta).await?;
        let source = connect_source(
            settings.source_url(),
            "UTC",
            settings.source.statement_timeout.0,
        )
        .await
        .context("Failed to connect to source.url")?;
        let catalog = resolve_catalog(source.client(), &settings.datasets)
            .await
            .context("a dataset does not match the source database")?;
        let storage = Storage::from_settings(&settings.s3).await;
        Ok(Self {
            settings: Arc::new(settings),
            meta,
            storage,
            catalog: Arc::new(catalog),
        })
    }

    pub fn app_state(&self) -> anyhow::Result<AppState> {
        Ok(AppState {
            meta: self.meta.clone(),
            storage: self.storage.clone(),
            catalog: self.catalog.clone(),
            settings: self.settings.clone(),
            signer: Signer::new(self.settings.auth.signing_secret.as_bytes()),
            source: SourceChecker::new(
                self.settings.source_url(),
                self.settings.source.max_connections as usize,
            )?,
            rate_limiter: Arc::new(haul_api::rate_limit::KeyRateLimiter::from_settings(
                &self.settings.server,
            )),
            key_cache: Arc::new(AnnouncedCache::new(
                self.settings.auth.key_cache_ttl.0,
                MAX_CACHED_KEYS,
            )),
            status_cache: Arc::new(AnnouncedCache::new(
                self.settings.server.status_cache_ttl.0,
                MAX_CACHED_EXPORTS,
            )),
        })
    }

    pub fn worker_context(&self, shutdown: CancellationToken) -> anyhow::Result<WorkerContext> {
        // A running export holds at most two sessions.
        let sessions = 2 * self.settings.worker.concurrency;
        Ok(WorkerContext {
            meta: self.meta.clone(),
            storage: self.storage.clone(),
            catalog: self.catalog.clone(),
            settings: self.settings.clone(),
            sources: SourcePool::new(
                self.settings.source_url(),
                sessions,
                self.settings.source.statement_timeout.0,
            )?,
            shutdown,
        })
    }

    /// Serves the API on `listener` until `shutdown`, then drains requests.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let addr = listener.local_addr()?;
        // The API gets a pool of its own, tuned for requests (see
        // `connect_for_requests`). In `haul all` that also keeps the workers'
        // hand-back off it: actix runs handlers on per-thread runtimes, and a
        // connection opened there dies when the API stops.
        let api = Services {
            meta: MetaDb::connect_for_requests(
                &self.settings.database.url,
                self.settings.database.max_connections,
            )
            .await?,
            ..self.clone()
        };
        // One state (and so one source-check pool and one rate limiter) for
        // the HTTP workers and the webhook deliverer alike.
        let state = api.app_state()?;
        let server = haul_api::build_server(
            state.clone(),
            listener,
            self.settings.worker.shutdown_grace.0,
        )?;
        let handle = server.handle();
        tracing::info!(%addr, "API listening");
        tokio::spawn(follow_announcements(
            vec![
                (KEY_CHANGES_CHANNEL, state.key_cache.clone() as _),
                (EXPORT_CHANGES_CHANNEL, state.status_cache.clone() as _),
            ],
            state.meta.pool.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(haul_api::webhooks::run_deliverer(state, shutdown.clone()));
        tokio::spawn(async move {
            shutdown.cancelled().await;
            handle.stop(true).await;
        });
        server.await?;
        tracing::info!("API stopped");
        Ok(())
    }

    pub async fn work(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if let Some(bind) = &self.settings.worker.metrics_bind {
            let listener = TcpListener::bind(bind)
                .with_context(|| format!("Failed to listen on worker.metrics_bind ({bind})"))?;
            let server = haul_api::startup::build_metrics_server(listener)?;
            let handle = server.handle();
            tokio::spawn(server);
            let stop = shutdown.clone();
            tokio::spawn(async move {
                stop.cancelled().await;
                handle.stop(false).await;
            });
        }
        haul_worker::run_workers(self.worker_context(shutdown)?).await
    }

    /// API and workers in one process; either failing stops both.
    pub async fn all(
        &self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let stop_all = shutdown.clone();
        let result = tokio::try_join!(
            async {
                let r = self.serve(listener, shutdown.clone()).await;
                stop_all.cancel();
                r
            },
            async {
                let r = self.work(shutdown.clone()).await;
                stop_all.cancel();
                r
            },
        );
        result.map(|_| ())
    }
}

/// `haul migrate`: Haul's schema and apalis's queue tables, idempotently.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let meta = MetaDb::connect(&settings.database.url, 2).await?;
    haul_db::migrate(&meta.pool).await?;
    haul_db::queue::setup_queue(&meta.pool)
        .await
        .context("Failed to set up the job queue tables")?;
    Ok(())
}

async fn ensure_migrated(meta: &MetaDb) -> anyhow::Result<()> {
    let ready: bool = sqlx_scalar(
        meta,
        "SELECT to_regclass('haul.exports') IS NOT NULL AND to_regclass('apalis.jobs') IS NOT NULL",
    )
    .await?;
    if !ready {
        bail!("Haul's tables are missing in database.url; run `haul migrate` first");
    }
    Ok(())
}

async fn sqlx_scalar(meta: &MetaDb, sql: &'static str) -> anyhow::Result<bool> {
    haul_db::meta::scalar_bool(meta, sql).await
}
