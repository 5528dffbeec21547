//! The hot path: turning PostgreSQL's COPY output into the bytes of a file
//! part, compressing it, and hashing the whole object across resumes.
//!
//! CSV and TSV are PostgreSQL's own COPY output passed through untouched, so
//! they are byte-identical to `COPY … TO STDOUT` by construction. NDJSON and
//! JSON frame `row_to_json` text that COPY printed, so every value is
//! PostgreSQL's own rendering of its type.

pub mod json_rows;
pub mod part;
pub mod sha;

pub use json_rows::{JsonFramer, JsonLayout};
pub use part::{Codec, PartWriter};
pub use sha::ResumableSha256;
