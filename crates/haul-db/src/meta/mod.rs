//! Haul's own tables: exports, their part checkpoints and API keys.

pub mod exports;
pub mod keys;
pub mod migrate;
pub mod parts;
pub mod webhooks;

use anyhow::Context;
use sqlx::{Connection, PgPool, postgres::PgPoolOptions};
use std::time::Duration;

pub use exports::{ExportRow, NewExport, Queued};
pub use parts::PartCheckpoint;

/// A write that lost its lease: another attempt owns the export now.
#[derive(Debug, thiserror::Error)]
#[error("export {0} is owned by another attempt (lease lost)")]
pub struct LeaseLost(pub uuid::Uuid);

#[derive(Clone, Debug)]
pub struct MetaDb {
    pub pool: PgPool,
}

/// In the API's pool, a connection idle for longer than this is pinged
/// before it is handed out; one in steady use is not.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

impl MetaDb {
    /// A pool that pings each connection before handing it out, so that one
    /// the server has closed is replaced rather than failing a query. For
    /// workers and commands, whose queries are not all safe to run twice.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        Self::connect_with(url, PgPoolOptions::new().max_connections(max_connections)).await
    }

    /// The API's pool. A ping is a full round trip, and on a busy server it
    /// doubled the cost of a one-query request such as `GET
    /// /v1/exports/{id}`, so only connections idle for a while are pinged.
    /// A connection that died in between fails its next query; the reads
    /// the API makes run once more on a fresh connection then
    /// (`read_twice`).
    pub async fn connect_for_requests(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE_FOR {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            });
        Self::connect_with(url, options).await
    }

    async fn connect_with(url: &str, options: PgPoolOptions) -> anyhow::Result<Self> {
        let pool = options
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .with_context(|| format!("Failed to connect to database.url ({})", redact(url)))?;
        Ok(Self { pool })
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Runs a read, and once more if its connection turned out to be gone (the
/// server closed it, or ended its session, while it sat in the pool): sqlx
/// drops such a connection, so the second try gets another.
pub(crate) async fn read_twice<T, F, Fut>(read: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    match read().await {
        Err(e) if connection_lost(&e) => {
            tracing::info!(error = %e, "database connection lost; reading again");
            Ok(read().await?)
        }
        result => Ok(result?),
    }
}

fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        // admin_shutdown, crash_shutdown, cannot_connect_now: the session
        // was ended by the server.
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03"))
        }
        _ => false,
    }
}

/// A connection URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Runs a query that answers one boolean (start-up checks).
pub async fn scalar_bool(meta: &MetaDb, sql: &'static str) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar(sql).fetch_one(&meta.pool).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[tokio::test]
    async fn a_read_is_tried_again_only_when_its_connection_was_lost() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let tries = AtomicU32::new(0);
        let read = || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 => Err(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())),
                n => Ok(n),
            }
        };
        assert_eq!(super::read_twice(read).await.unwrap(), 1);

        let tries = AtomicU32::new(0);
        let failing = || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(sqlx::Error::RowNotFound)
        };
        assert!(super::read_twice(failing).await.is_err());
        assert_eq!(
            tries.load(Ordering::SeqCst),
            1,
            "other errors are not retried"
        );
    }
}
