//! Haul's domain: configuration, the dataset catalog, the validated export
//! specification and the opaque cursors. Pure types and rules, no I/O.

pub mod api_key;
pub mod catalog;
pub mod config;
pub mod cursor;
pub mod format;
pub mod limits;
pub mod metrics;
pub mod retry;
pub mod signing;
pub mod spec;
pub mod status;
pub mod units;

pub use catalog::{Catalog, Column, Dataset};
pub use config::Settings;
pub use cursor::{CursorError, KeyCursor};
pub use format::{Compression, Format};
pub use signing::Signer;
pub use spec::{ExportRequest, ExportSpec, Filter, FilterOp, SpecError};
pub use status::Status;
