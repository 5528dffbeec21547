//! The end-to-end harness: each test gets its own database (Haul's tables,
//! the queue and the source data together) and its own bucket on the real
//! LocalStack, and runs the real API and workers in-process on port 0.
//!
//! `HAUL_TEST_DATABASE_URL` (an admin connection; default the local
//! `postgres` database) and `HAUL_TEST_S3_ENDPOINT` (default LocalStack on
//! 127.0.0.1:4566) say where the services are. `TEST_LOG=1` shows logs.

pub mod browser;
pub mod env;
pub mod golden;
pub mod haul_bin;
pub mod pg;
pub mod process;
pub mod proxy;
pub mod s3;
pub mod tap;

pub use env::{TestEnv, TestOptions};
