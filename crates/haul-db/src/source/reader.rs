//! A connection to the source database, set up so that PostgreSQL renders
//! values the same way on every session (and so like a default `psql`).

use anyhow::Context;
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use std::time::Duration;
use tokio_postgres::{Client, NoTls, ToStatement};

/// A session on the source: a connection of its own, or one borrowed from a
/// `SourcePool` (which takes it back only through `give_back`).
pub struct SourceConn {
    session: Session,
}

enum Session {
    Own {
        client: Client,
        task: tokio::task::JoinHandle<()>,
    },
    /// `None` once given back to its pool.
    Pooled(Option<deadpool_postgres::Object>),
}

impl Drop for SourceConn {
    fn drop(&mut self) {
        match &mut self.session {
            Session::Own { task, .. } => task.abort(),
            // Not given back: it may be mid-COPY or in a failed state, so it
            // is closed rather than returned.
            Session::Pooled(object) => {
                if let Some(object) = object.take() {
                    drop(deadpool_postgres::Object::take(object));
                }
            }
        }
    }
}

/// A page's extent: how many rows, and the key of the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageBound {
    pub rows: i64,
    pub last_key: Vec<String>,
}

/// Output settings every source session has: ISO dates, PostgreSQL interval
/// style, shortest-exact floats, hex bytea, UTF-8.
pub(crate) const PINNED_SETTINGS: &str =
    "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1;
     SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; SET standard_conforming_strings = on;
     SET application_name = 'haul'";

/// The settings that differ between exports. `TimeZone` is set through a
/// bound parameter, so an unknown zone is PostgreSQL's error, never injected
/// SQL.
const EXPORT_SETTINGS: &str =
    "SELECT set_config('TimeZone', $1, false), set_config('statement_timeout', $2, false)";

/// Opens a session of its own with the pinned output settings (so values
/// render the same way on every session, and like a default `psql`) and the
/// export's time zone.
pub async fn connect_source(
    url: &str,
    timezone: &str,
    statement_timeout: Duration,
) -> anyhow::Result<SourceConn> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("Failed to connect to the source database")?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "source connection closed");
        }
    });
    let conn = SourceConn {
        session: Session::Own { client, task },
    };
    conn.client()
        .batch_execute(PINNED_SETTINGS)
        .await
        .context("Failed to set up the source session")?;
    set_export_settings(conn.client(), EXPORT_SETTINGS, timezone, statement_timeout).await?;
    Ok(conn)
}

/// Lends `object` out as a session for an export in `timezone`.
pub(crate) async fn lend(
    object: deadpool_postgres::Object,
    timezone: &str,
    statement_timeout: Duration,
) -> anyhow::Result<SourceConn> {
    let settings = object.prepare_cached(EXPORT_SETTINGS).await?;
    set_export_settings(&object, &settings, timezone, statement_timeout).await?;
    Ok(SourceConn {
        session: Session::Pooled(Some(object)),
    })
}

/// Runs `settings`: `EXPORT_SETTINGS`, as text or prepared.
async fn set_export_settings<S: ToStatement + ?Sized>(
    client: &Client,
    settings: &S,
    timezone: &str,
    statement_timeout: Duration,
) -> anyhow::Result<()> {
    let timeout = statement_timeout.as_millis().to_string();
    client
        .execute(settings, &[&timezone, &timeout])
        .await
        .context("Failed to set the session time zone")?;
    Ok(())
}

impl SourceConn {
    /// Returns a pooled session to its pool for the next export; call it
    /// only when no statement or COPY is left running on it. (Dropped
    /// instead, a pooled session is closed.) An own session just closes.
    pub fn give_back(mut self) {
        if let Session::Pooled(object) = &mut self.session {
            drop(object.take());
        }
    }

    pub fn client(&self) -> &Client {
        match &self.session {
            Session::Own { client, .. } => client,
            Session::Pooled(object) => object
                .as_ref()
                .expect("a session in use has its connection"),
        }
    }

    /// The first row of a query whose columns are all text (key values).
    pub async fn key_row(&self, sql: &str) -> anyhow::Result<Option<Vec<String>>> {
        let row = self.client().query_opt(sql, &[]).await?;
        Ok(row.map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect()))
    }

    /// The planner's row estimate from `EXPLAIN (FORMAT JSON)`.
    pub async fn estimate(&self, explain_sql: &str) -> anyhow::Result<Option<i64>> {
        let row = self.client().query_one(explain_sql, &[]).await?;
        let plan: serde_json::Value = row.get(0);
        Ok(plan[0]["Plan"]["Plan Rows"].as_f64().map(|r| r as i64))
    }

    pub async fn page_bound(&self, sql: &str) -> anyhow::Result<Option<PageBound>> {
        let row = self.client().query_opt(sql, &[]).await?;
        Ok(row.map(|r| PageBound {
            rows: r.get(0),
            last_key: (1..r.len()).map(|i| r.get::<_, String>(i)).collect(),
        }))
    }

    /// The raw COPY output of `copy_sql`, in the chunks PostgreSQL sends.
    pub async fn copy_out(
        &self,
        copy_sql: &str,
    ) -> anyhow::Result<impl Stream<Item = anyhow::Result<Bytes>> + use<>> {
        let stream = self.client().copy_out(copy_sql).await?;
        Ok(stream.map_err(anyhow::Error::from))
    }
}
