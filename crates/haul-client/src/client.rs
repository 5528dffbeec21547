//! The HTTP calls of `/v1/exports`.

use crate::Result;
use crate::error::{Error, problem_from};
use crate::types::{Export, ExportPage, ExportRequest, ListQuery};
use reqwest::{Method, RequestBuilder, StatusCode, header};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A Haul API client for one API key.
#[derive(Clone, Debug)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    base: String,
    api_key: String,
}

/// How [`Client::wait`] polls: it starts at `initial` and backs off by half
/// again each time up to `max`, so short exports finish fast and long ones
/// do not hammer the API.
#[derive(Clone, Debug)]
pub struct WaitOptions {
    pub initial: Duration,
    pub max: Duration,
    /// Give up after this long (None: wait for as long as it takes).
    pub timeout: Option<Duration>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
            timeout: None,
        }
    }
}

impl Client {
    /// `base_url` is Haul's root, e.g. `https://haul.example.com`.
    pub fn new(base_url: &str, api_key: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            // The download route answers 303; the client follows it itself,
            // so that the API key is never sent to S3.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("haul-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
    }

    /// `POST /v1/exports`. With an `idempotency_key`, repeating the call
    /// with the same body answers the same export instead of a new one.
    pub async fn create_export(
        &self,
        request: &ExportRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Export> {
        let mut req = self.request(Method::POST, "/v1/exports").json(request);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        json(req).await
    }

    pub async fn get_export(&self, id: Uuid) -> Result<Export> {
        json(self.request(Method::GET, &format!("/v1/exports/{id}"))).await
    }

    /// One page, newest first; pass `next_cursor` back for the next one.
    pub async fn list_exports(&self, query: &ListQuery) -> Result<ExportPage> {
        json(self.request(Method::GET, "/v1/exports").query(query)).await
    }

    /// `DELETE /v1/exports/{id}`: cancels a queued or running export, or
    /// deletes the file of a finished one.
    pub async fn cancel_export(&self, id: Uuid) -> Result<Export> {
        json(self.request(Method::DELETE, &format!("/v1/exports/{id}"))).await
    }

    /// Polls until the export is no longer queued or running, calling
    /// `on_progress` with every state seen, and returns the final one
    /// (whatever its status: a failed export is not an error of the call).
    pub async fn wait(
        &self,
        id: Uuid,
        options: &WaitOptions,
        mut on_progress: impl FnMut(&Export),
    ) -> Result<Export> {
        let started = Instant::now();
        let mut delay = options.initial;
        loop {
            let export = match self.get_export(id).await {
                Ok(e) => e,
                // Rate limited: back off rather than fail a long wait.
                Err(Error::Api(p)) if p.status == 429 => {
                    tokio::time::sleep(options.max).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            on_progress(&export);
            if export.status.is_terminal() {
                return Ok(export);
            }
            if let Some(limit) = options.timeout
                && started.elapsed() >= limit
            {
                return Err(Error::WaitTimeout(id, limit));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(options.max);
        }
    }

    /// A freshly presigned S3 URL for the export's file (the `Location` of
    /// `GET /v1/exports/{id}/download`'s 303).
    pub async fn presigned_url(&self, id: Uuid) -> Result<String> {
        let res = self
            .request(Method::GET, &format!("/v1/exports/{id}/download"))
            .send()
            .await?;
        if res.status() != StatusCode::SEE_OTHER {
            return Err(problem_from(res).await);
        }
        res.headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| Error::Protocol("303 without a Location header".into()))
    }
}

async fn json<T: DeserializeOwned>(req: RequestBuilder) -> Result<T> {
    let res = req.send().await?;
    if !res.status().is_success() {
        return Err(problem_from(res).await);
    }
    Ok(res.json().await?)
}
