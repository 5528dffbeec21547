//! What every request handler shares.

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
}
