//! What every request handler shares.

use crate::announced_cache::AnnouncedCache;
use crate::auth::KnownKey;
use crate::rate_limit::KeyRateLimiter;
use haul_core::{Catalog, Settings, Signer};
use haul_db::MetaDb;
use haul_db::meta::ExportRow;
use haul_db::source::SourceChecker;
use haul_s3::Storage;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub meta: MetaDb,
    pub storage: Storage,
    pub catalog: Arc<Catalog>,
    pub settings: Arc<Settings>,
    pub signer: Signer,
    pub source: SourceChecker,
    /// Shared by every HTTP worker thread, so the limit is per process.
    pub rate_limiter: Arc<KeyRateLimiter>,
    /// Keys checked recently, by prefix; see `announced_cache`.
    pub key_cache: Arc<AnnouncedCache<KnownKey>>,
    /// Export rows read recently, by id, for `GET /v1/exports/{id}`.
    pub status_cache: Arc<AnnouncedCache<ExportRow>>,
}
