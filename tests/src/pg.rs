//! Per-test databases on the real PostgreSQL.

use std::sync::OnceLock;
use tokio_postgres::{Client, NoTls};

/// Test databases are named with this prefix, so a run can clear what an
/// earlier, interrupted run left behind.
const DB_PREFIX: &str = "haul_t_";

pub fn admin_url() -> String {
    std::env::var("HAUL_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The admin URL with another database name.
pub fn url_for(db: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("the admin URL names a database");
    format!("{base}/{db}")
}

pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to {url}: {e} (is PostgreSQL running? see scripts/test.sh)")
        });
    tokio::spawn(conn);
    client
}

/// A session that LISTENs on one channel.
pub struct Listener {
    _session: Client,
    payloads: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Listener {
    /// LISTEN is in force when this returns.
    pub async fn start(url: &str, channel: &str) -> Listener {
        let (session, mut conn) = tokio_postgres::connect(url, NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        let (tx, payloads) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(Ok(message)) = futures::StreamExt::next(&mut messages).await {
                if let tokio_postgres::AsyncMessage::Notification(n) = message {
                    let _ = tx.send(n.payload().to_string());
                }
            }
        });
        session
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .await
            .unwrap();
        Listener {
            _session: session,
            payloads,
        }
    }

    /// The next notification's payload, if one arrives within `wait`.
    pub async fn next(&mut self, wait: std::time::Duration) -> Option<String> {
        tokio::time::timeout(wait, self.payloads.recv())
            .await
            .ok()
            .flatten()
    }
}

/// Creates an empty database for one test.
pub async fn create_database() -> (String, String) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    let admin = connect(&admin_url()).await;
    if SWEPT.set(()).is_ok() {
        drop_stale(&admin).await;
    }
    let name = format!("{DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let url = url_for(&name);
    (name, url)
}

pub async fn drop_database(name: &str) {
    let admin = connect(&admin_url()).await;
    let _ = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}

/// Databases of earlier runs that are older than an hour (so never those of
/// a test binary running right now).
async fn drop_stale(admin: &Client) {
    let rows = admin
        .query(
            "SELECT datname::text FROM pg_database d
              WHERE datname LIKE 'haul\\_t\\_%'
                AND (pg_stat_file('base/' || d.oid || '/PG_VERSION')).modification < now() - interval '1 hour'",
            &[],
        )
        .await
        .unwrap_or_default();
    for row in rows {
        let name: String = row.get(0);
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// PostgreSQL's own COPY output for `select`, the reference every CSV
/// export is compared with byte for byte.
pub async fn copy_out(client: &Client, copy_sql: &str) -> Vec<u8> {
    use futures::TryStreamExt;
    let stream = client.copy_out(copy_sql).await.expect("COPY runs");
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.expect("COPY streams");
    chunks.concat()
}
