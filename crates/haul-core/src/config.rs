//! The operator's configuration. Every section rejects unknown keys so that a
//! typo is an error naming the key, never a silently ignored setting.

use crate::limits::{PRESIGN_MAX_SECS, S3_MAX_PART_SIZE, S3_MIN_PART_SIZE};
use crate::units::{Size, Span};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub source: SourceSettings,
    pub s3: S3Settings,
    pub worker: WorkerSettings,
    pub exports: ExportSettings,
    pub download: DownloadSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub webhooks: WebhookSettings,
    pub datasets: BTreeMap<String, DatasetConfig>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    pub public_url: String,
    pub max_body: Size,
    pub workers: usize,
    /// Requests per second each API key may make on average (429 beyond).
    pub rate_limit_per_second: u32,
    /// Requests an API key may make at once before the rate applies.
    pub rate_limit_burst: u32,
    /// How long `GET /v1/exports/{id}` may answer from the export as this
    /// process last read it. Status changes are announced and seen at once;
    /// progress may lag by up to this much. `0s` reads every time.
    pub status_cache_ttl: Span,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            max_body: Size::mib(1),
            workers: 2,
            rate_limit_per_second: 50,
            rate_limit_burst: 100,
            status_cache_ttl: Span::secs(1),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/haul".into(),
            max_connections: 10,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceSettings {
    /// The database holding the data; `None` means `database.url`.
    pub url: Option<String>,
    pub max_connections: u32,
    pub statement_timeout: Span,
}

impl Default for SourceSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
            statement_timeout: Span::secs(300),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub public_endpoint: Option<String>,
    pub force_path_style: bool,
    pub prefix: String,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: "haul".into(),
            region: "us-east-1".into(),
            endpoint: None,
            public_endpoint: None,
            force_path_style: false,
            prefix: "exports/".into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    pub concurrency: usize,
    pub part_size: Size,
    pub parts_in_flight: usize,
    pub page_rows: u32,
    pub heartbeat: Span,
    pub orphan_after: Span,
    pub shutdown_grace: Span,
    pub max_attempts: u32,
    /// Ceiling on parts per upload; S3's is 10,000. Lower only to test growth.
    pub max_parts: u32,
    /// How often the sweeper looks for expired exports and stray uploads.
    pub sweep_every: Span,
    /// First delay before retrying after a transient fault; doubles per
    /// attempt (with jitter) up to a minute.
    pub retry_backoff: Span,
    /// Multipart uploads under `s3.prefix` that no live export owns are
    /// aborted by the sweeper once they are this old.
    pub stray_upload_age: Span,
    /// Where a `haul work` process serves its own `/metrics` (part upload
    /// and job histograms, rows and bytes exported). Unset: not served;
    /// `haul all` shows them on the API's `/metrics` anyway.
    pub metrics_bind: Option<String>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            part_size: Size::mib(8),
            parts_in_flight: 2,
            page_rows: 20_000,
            heartbeat: Span::secs(30),
            orphan_after: Span::secs(120),
            shutdown_grace: Span::secs(30),
            max_attempts: 5,
            max_parts: crate::limits::S3_MAX_PARTS,
            sweep_every: Span::secs(60),
            retry_backoff: Span::secs(1),
            stray_upload_age: Span::secs(3600),
            metrics_bind: None,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSettings {
    pub ttl: Span,
    pub max_active_per_tenant: u32,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            ttl: Span::secs(7 * 86400),
            max_active_per_tenant: 10,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DownloadSettings {
    pub url_ttl: Span,
    pub link_ttl: Span,
}

impl Default for DownloadSettings {
    fn default() -> Self {
        Self {
            url_ttl: Span::secs(15 * 60),
            link_ttl: Span::secs(3600),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub signing_secret: String,
    /// How long an API process trusts a key it looked up. Revocations reach
    /// running processes at once through LISTEN/NOTIFY; this bounds the wait
    /// when that connection is down. `0s` looks every key up every time.
    pub key_cache_ttl: Span,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            signing_secret: String::new(),
            key_cache_ttl: Span::secs(30),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info,sqlx=warn".into(),
        }
    }
}

/// Callbacks to `callback_url` when an export ends.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// HMAC key of the `Haul-Signature` header. Receivers need it to verify
    /// deliveries, so it is a secret of its own, never `auth.signing_secret`.
    /// Unset: requests with a `callback_url` are refused.
    pub signing_secret: Option<String>,
    /// Deliveries tried (first try plus retries) before giving up.
    pub max_attempts: u32,
    /// Pause before the first retry; doubles per retry, with jitter, up to an hour.
    pub retry_backoff: Span,
    /// Time allowed for the receiver to answer one delivery.
    pub timeout: Span,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            signing_secret: None,
            max_attempts: 8,
            retry_backoff: Span::secs(5),
            timeout: Span::secs(10),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// One `[datasets.NAME]` section as the operator wrote it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    pub table: String,
    pub key: Vec<String>,
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub filterable: Vec<String>,
    #[serde(default)]
    pub tenant_column: Option<String>,
}

/// A setting that cannot work, named by its full key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: `{key}`: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

fn bad(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        problem: problem.into(),
    }
}

/// Shortest accepted signing secret: HMAC-SHA256 keys shorter than the hash
/// output weaken it (RFC 2104 §3).
pub const MIN_SIGNING_SECRET_LEN: usize = 32;

impl Settings {
    /// The source database URL (`source.url`, defaulting to `database.url`).
    pub fn source_url(&self) -> &str {
        self.source.url.as_deref().unwrap_or(&self.database.url)
    }

    /// Checks what serde cannot: ranges, relations and required values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.auth.signing_secret.len() < MIN_SIGNING_SECRET_LEN {
            return Err(bad(
                "auth.signing_secret",
                format!(
                    "must be at least {MIN_SIGNING_SECRET_LEN} bytes (set HAUL__AUTH__SIGNING_SECRET)"
                ),
            ));
        }
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(bad("server.public_url", "must be an absolute http(s) URL"));
        }
        if self.s3.bucket.trim().is_empty() {
            return Err(bad("s3.bucket", "must not be empty"));
        }
        let part = self.worker.part_size.0;
        if !(S3_MIN_PART_SIZE..=S3_MAX_PART_SIZE).contains(&part) {
            return Err(bad(
                "worker.part_size",
                "must be between 5MiB and 5GiB (S3's part limits)",
            ));
        }
        let positive = [
            ("worker.concurrency", self.worker.concurrency as u64),
            ("worker.parts_in_flight", self.worker.parts_in_flight as u64),
            ("worker.page_rows", self.worker.page_rows as u64),
            ("worker.max_attempts", self.worker.max_attempts as u64),
            ("worker.max_parts", self.worker.max_parts as u64),
            ("server.workers", self.server.workers as u64),
            (
                "server.rate_limit_per_second",
                self.server.rate_limit_per_second as u64,
            ),
            (
                "server.rate_limit_burst",
                self.server.rate_limit_burst as u64,
            ),
            (
                "database.max_connections",
                self.database.max_connections as u64,
            ),
            ("source.max_connections", self.source.max_connections as u64),
            (
                "exports.max_active_per_tenant",
                self.exports.max_active_per_tenant as u64,
            ),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(bad(key, "must be at least 1"));
        }
        if self.webhooks.max_attempts == 0 {
            return Err(bad("webhooks.max_attempts", "must be at least 1"));
        }
        if let Some(secret) = &self.webhooks.signing_secret
            && secret.len() < MIN_SIGNING_SECRET_LEN
        {
            return Err(bad(
                "webhooks.signing_secret",
                format!("must be at least {MIN_SIGNING_SECRET_LEN} bytes"),
            ));
        }
        if self.worker.max_parts > crate::limits::S3_MAX_PARTS {
            return Err(bad("worker.max_parts", "S3 allows at most 10000 parts"));
        }
        if self.worker.orphan_after <= self.worker.heartbeat {
            return Err(bad(
                "worker.orphan_after",
                "must be longer than worker.heartbeat",
            ));
        }
        if self.download.url_ttl.0.as_secs() > PRESIGN_MAX_SECS || self.download.url_ttl.0.is_zero()
        {
            return Err(bad(
                "download.url_ttl",
                "must be between 1s and 7d (S3 presigning limit)",
            ));
        }
        for (name, ds) in &self.datasets {
            let key = |k: &str| format!("datasets.{name}.{k}");
            if ds.table.trim().is_empty() {
                return Err(bad(&key("table"), "must name a table or view"));
            }
            if ds.key.is_empty() {
                return Err(bad(&key("key"), "must list at least one column"));
            }
            if !is_dataset_name(name) {
                return Err(bad(
                    &format!("datasets.{name}"),
                    "names use a-z, 0-9, '_' and '-'",
                ));
            }
        }
        Ok(())
    }
}

/// Dataset names appear in URLs and file names, so they stay plain.
pub fn is_dataset_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Settings {
        let mut s = Settings::default();
        s.auth.signing_secret = "x".repeat(32);
        s
    }

    #[test]
    fn defaults_validate_once_a_secret_is_set() {
        assert!(Settings::default().validate().is_err());
        valid().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let mut s = valid();
        s.worker.part_size = Size::mib(1);
        assert_eq!(s.validate().unwrap_err().key, "worker.part_size");
        let mut s = valid();
        s.worker.concurrency = 0;
        assert_eq!(s.validate().unwrap_err().key, "worker.concurrency");
        let mut s = valid();
        s.download.url_ttl = Span::secs(8 * 86400);
        assert_eq!(s.validate().unwrap_err().key, "download.url_ttl");
    }
}
