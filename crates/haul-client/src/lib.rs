//! A typed client for Haul's HTTP API (`/v1/exports`), used by the `haul
//! export` commands and by the end-to-end tests.
//!
//! Besides the plain calls it knows the two things every client gets wrong
//! by hand: polling until an export finishes ([`Client::wait`]) and
//! downloading the file so that an interrupted download continues where it
//! stopped and the result is checked against the export's SHA-256
//! ([`Client::download_to_file`]).

mod client;
mod download;
mod error;
mod types;

pub use client::{Client, WaitOptions};
pub use download::{DownloadOutcome, DownloadProgress, ExistingFile};
pub use error::{Error, Problem};
pub use types::{
    ErrorInfo, Export, ExportPage, ExportRequest, ExportResult, Links, ListQuery, Progress, Status,
};

pub type Result<T, E = Error> = std::result::Result<T, E>;
