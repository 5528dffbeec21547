//! Routes, one file per resource.

pub mod console;
pub mod datasets;
pub mod download;
pub mod exports;
pub mod metrics;
pub mod ops;
