//! What every request handler shares.

use crate::key_cache::KeyCache;
use crate::rate_limit::KeyRateLimiter;
use haul_core::{Catalog, Settings, Signer};
use haul_db::MetaDb;
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
    /// Keys checked recently; see `key_cache`.
    pub key_cache: Arc<KeyCache>,
}
