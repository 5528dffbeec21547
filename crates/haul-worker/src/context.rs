//! What every export job shares within a worker process.

use haul_core::{Catalog, Settings};
use haul_db::MetaDb;
use haul_db::meta::ExportRow;
use haul_db::source::SourcePool;
use haul_s3::Storage;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct WorkerContext {
    pub meta: MetaDb,
    pub storage: Storage,
    pub catalog: Arc<Catalog>,
    pub settings: Arc<Settings>,
    /// Sessions on the source, kept between exports.
    pub sources: SourcePool,
    /// Cancelled on SIGTERM/SIGINT: running exports checkpoint and hand back.
    pub shutdown: CancellationToken,
}

impl WorkerContext {
    /// Where an export's file goes: fixed by the export, so every attempt
    /// (and the cleanup of a failed one) names the same key.
    pub fn object_key(&self, row: &ExportRow) -> String {
        self.storage
            .object_key(&row.tenant, &row.id.to_string(), &row.spec.0.filename)
    }
}
