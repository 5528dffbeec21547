//! Haul's own tables: exports, their part checkpoints and API keys.

pub mod exports;
pub mod keys;
pub mod migrate;
pub mod parts;
pub mod webhooks;

use anyhow::Context;
use sqlx::{PgPool, postgres::PgPoolOptions};

pub use exports::{ExportRow, NewExport};
pub use parts::PartCheckpoint;

/// A write that lost its lease: another attempt owns the export now.
#[derive(Debug, thiserror::Error)]
#[error("export {0} is owned by another attempt (lease lost)")]
pub struct LeaseLost(pub uuid::Uuid);

#[derive(Clone, Debug)]
pub struct MetaDb {
    pub pool: PgPool,
}

impl MetaDb {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
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
}
