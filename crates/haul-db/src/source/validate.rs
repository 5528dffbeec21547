//! Request-time checks against the source database: does a filter value
//! parse as its column's type, is a time zone known. PostgreSQL's own input
//! functions decide, with the value bound as a parameter.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

#[derive(Clone)]
pub struct SourceChecker {
    pool: Pool,
}

impl SourceChecker {
    pub fn new(url: &str, max_size: usize) -> anyhow::Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager).max_size(max_size).build()?;
        Ok(Self { pool })
    }

    /// Whether `value` is valid input for `type_name` (from the catalog).
    pub async fn converts_to(&self, value: &str, type_name: &str) -> anyhow::Result<bool> {
        let client = self.pool.get().await?;
        let sql = format!("SELECT $1::text::{type_name}");
        let stmt = client.prepare_cached(&sql).await?;
        match client.execute(&stmt, &[&value]).await {
            Ok(_) => Ok(true),
            Err(e) if e.as_db_error().is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the server accepts `zone` as the session `TimeZone`, which is
    /// exactly what the worker will set: a zone name in any letter case or a
    /// POSIX offset. Abbreviations such as `CEST` are input-only and refused
    /// here, as `SET TimeZone` would refuse them. Setting it with `is_local`
    /// outside a transaction block only lasts for this one statement.
    pub async fn is_timezone(&self, zone: &str) -> anyhow::Result<bool> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached("SELECT set_config('TimeZone', $1, true)")
            .await?;
        match client.execute(&stmt, &[&zone]).await {
            Ok(_) => Ok(true),
            Err(e) if e.as_db_error().is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let client = self.pool.get().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }
}
