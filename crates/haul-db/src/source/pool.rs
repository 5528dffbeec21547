//! Source sessions kept between exports. A fresh PostgreSQL session costs a
//! backend process and its cold catalog caches: about 6 ms of the server's
//! CPU, twice per export, which was most of the database's work for small
//! exports. A pooled session keeps its pinned output settings; each export
//! sets its own time zone and statement timeout on checkout.

use super::reader::{PINNED_SETTINGS, SourceConn, lend};
use anyhow::Context;
use deadpool_postgres::{HookError, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::time::Duration;
use tokio_postgres::NoTls;

#[derive(Clone)]
pub struct SourcePool {
    pool: Pool,
    statement_timeout: Duration,
}

impl SourcePool {
    pub fn new(url: &str, max_size: usize, statement_timeout: Duration) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse().context("source.url")?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Only sessions that ended an export cleanly come back
                // (`SourceConn::give_back`), so a cheap liveness check is
                // enough.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
                Box::pin(async move {
                    client
                        .batch_execute(PINNED_SETTINGS)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()?;
        Ok(Self {
            pool,
            statement_timeout,
        })
    }

    /// A session set up for an export in `timezone`. Dropped, it is closed;
    /// `SourceConn::give_back` returns it for the next export.
    pub async fn session(&self, timezone: &str) -> anyhow::Result<SourceConn> {
        let object = self
            .pool
            .get()
            .await
            .map_err(anyhow::Error::from)
            .context("Failed to connect to the source database")?;
        lend(object, timezone, self.statement_timeout).await
    }

    /// Closes the sessions no export has used for `idle`, so a quiet worker
    /// does not hold backends on the source.
    pub fn close_idle(&self, idle: Duration) -> usize {
        self.pool
            .retain(|_, metrics| metrics.last_used() < idle)
            .removed
            .len()
    }
}
