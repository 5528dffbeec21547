//! One test's world: a database, a bucket, and Haul's API and workers.

use crate::{pg, proxy::Proxy, s3};
use haul::Services;
use haul_core::Settings;
use haul_core::config::{DatasetConfig, LogSettings};
use haul_core::units::{Size, Span};
use haul_s3::Storage;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long a test waits for an export to finish before failing.
pub const EXPORT_DEADLINE: Duration = Duration::from_secs(180);

pub struct TestOptions {
    pub datasets: BTreeMap<String, DatasetConfig>,
    /// Run export workers (false: the API alone, so exports stay queued).
    pub workers: bool,
    /// Haul reaches S3 through a proxy the test can cut.
    pub s3_via_proxy: bool,
    pub tweak: Box<dyn FnOnce(&mut Settings) + Send>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            datasets: BTreeMap::new(),
            workers: true,
            s3_via_proxy: false,
            tweak: Box::new(|_| {}),
        }
    }
}

impl TestOptions {
    pub fn dataset(mut self, name: &str, table: &str, key: &[&str]) -> Self {
        self.datasets.insert(
            name.into(),
            DatasetConfig {
                table: table.into(),
                key: key.iter().map(|k| k.to_string()).collect(),
                columns: None,
                filterable: vec![],
                tenant_column: None,
            },
        );
        self
    }

    pub fn with(mut self, f: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        self.tweak = Box::new(f);
        self
    }
}

pub struct TestEnv {
    pub db_name: String,
    pub db_url: String,
    pub base_url: String,
    /// Does not follow redirects, so tests see the 303 itself.
    pub http: reqwest::Client,
    /// S3 as the test sees it: LocalStack, directly.
    pub storage: Storage,
    pub settings: Settings,
    pub source: tokio_postgres::Client,
    pub proxy: Option<Proxy>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestEnv {
    /// Creates the database, runs `setup_sql` in it, migrates, creates the
    /// bucket and starts Haul on a free port.
    pub async fn start(setup_sql: &str, opts: TestOptions) -> TestEnv {
        if std::env::var_os("TEST_LOG").is_some() {
            haul::telemetry::init(&LogSettings {
                level: "info,haul=debug,sqlx=warn".into(),
                ..LogSettings::default()
            });
        }
        let (db_name, db_url) = pg::create_database().await;
        let source = pg::connect(&db_url).await;
        source
            .batch_execute(setup_sql)
            .await
            .expect("test setup SQL runs");

        let bucket = format!(
            "haul-t-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        );
        let direct = s3::settings(&bucket, &s3::endpoint());
        let storage = Storage::from_settings(&direct).await;
        s3::create_bucket(&storage).await;
        let proxy = if opts.s3_via_proxy {
            let target = s3::endpoint()
                .trim_start_matches("http://")
                .parse()
                .expect("endpoint is host:port");
            Some(Proxy::start(target).await)
        } else {
            None
        };

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let mut settings = test_settings(&db_url, direct);
        settings.server.public_url = base_url.clone();
        if let Some(p) = &proxy {
            settings.s3.public_endpoint = settings.s3.endpoint.clone();
            settings.s3.endpoint = Some(p.url());
        }
        settings.datasets = opts.datasets;
        (opts.tweak)(&mut settings);
        settings.validate().expect("test settings are valid");
        haul::services::migrate(&settings).await.expect("migrate");

        let services = Services::start(settings.clone())
            .await
            .expect("haul starts");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = if opts.workers {
            tokio::spawn(async move { services.all(listener, stop).await })
        } else {
            tokio::spawn(async move { services.serve(listener, stop).await })
        };
        TestEnv {
            db_name,
            db_url,
            base_url,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Below actix's 5 s keep-alive: a connection the server is
                // closing is never picked for the next request.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
            storage,
            settings,
            source,
            proxy,
            shutdown,
            task,
        }
    }

    pub async fn api_key(&self, tenant: &str) -> String {
        let meta = haul_db::MetaDb::connect(&self.db_url, 1).await.unwrap();
        haul::keys::create(&meta, tenant).await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn post_export(&self, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/exports"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an export and returns its id, asserting the 202 and Location.
    pub async fn create_export(&self, key: &str, body: &Value) -> String {
        let res = self.post_export(key, body).await;
        assert_eq!(
            res.status(),
            202,
            "POST /v1/exports: {}",
            res.text().await.unwrap()
        );
        let location = res.headers()["location"].to_str().unwrap().to_string();
        let export: Value = res.json().await.unwrap();
        let id = export["id"].as_str().unwrap().to_string();
        assert_eq!(location, format!("/v1/exports/{id}"));
        id
    }

    pub async fn get_json(&self, key: &str, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// GETs `path` until it answers `want` or `within` passes; returns the
    /// last status. For changes that reach the API asynchronously, such as
    /// a key revocation announced over LISTEN/NOTIFY.
    pub async fn status_within(&self, key: &str, path: &str, want: u16, within: Duration) -> u16 {
        let started = Instant::now();
        loop {
            let (status, _) = self.get_json(key, path).await;
            if status == want || started.elapsed() > within {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls the export until its status is final.
    pub async fn wait_until_done(&self, key: &str, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (status, export) = self.get_json(key, &format!("/v1/exports/{id}")).await;
            assert_eq!(status, 200, "{export}");
            match export["status"].as_str().unwrap() {
                "queued" | "running" => {}
                _ => return export,
            }
            assert!(
                started.elapsed() < EXPORT_DEADLINE,
                "export {id} did not finish: {export}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until `check` accepts the export resource.
    pub async fn wait_for(
        &self,
        key: &str,
        id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let (_, export) = self.get_json(key, &format!("/v1/exports/{id}")).await;
            if check(&export) {
                return export;
            }
            assert!(
                started.elapsed() < EXPORT_DEADLINE,
                "export {id} never reached {what}: {export}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Follows `download` once (the 303) and fetches the presigned URL.
    pub async fn download(&self, key: &str, id: &str) -> reqwest::Response {
        let res = self
            .http
            .get(self.url(&format!("/v1/exports/{id}/download")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "download: {}", res.text().await.unwrap());
        assert_eq!(res.headers()["cache-control"], "no-store");
        let location = res.headers()["location"].to_str().unwrap().to_string();
        self.http.get(location).send().await.unwrap()
    }

    pub async fn download_bytes(&self, key: &str, id: &str) -> Vec<u8> {
        let res = self.download(key, id).await;
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap().to_vec()
    }

    /// PostgreSQL's own COPY of `sql` in this test's database.
    pub async fn copy(&self, copy_sql: &str) -> Vec<u8> {
        pg::copy_out(&self.source, copy_sql).await
    }

    /// Stops Haul and drops the database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
        drop(self.source);
        pg::drop_database(&self.db_name).await;
    }
}

fn test_settings(db_url: &str, s3: haul_core::config::S3Settings) -> Settings {
    let mut s = Settings::default();
    s.database.url = db_url.into();
    s.database.max_connections = 6;
    s.source.max_connections = 2;
    s.server.workers = 1;
    s.s3 = s3;
    s.auth.signing_secret = "test-signing-secret-0123456789abcdef0123".into();
    s.worker.concurrency = 2;
    s.worker.part_size = Size::mib(5);
    s.worker.heartbeat = Span::secs(1);
    s.worker.orphan_after = Span::secs(4);
    s.worker.shutdown_grace = Span::secs(10);
    s.worker.retry_backoff = Span(Duration::from_millis(200));
    s.worker.max_attempts = 3;
    s.worker.sweep_every = Span::secs(1);
    s
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
