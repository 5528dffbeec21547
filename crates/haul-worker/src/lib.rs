//! The export worker: claims export jobs from the apalis queue and runs them
//! (keyset pages → encoder → S3 multipart upload, checkpointed per part).

pub mod context;
pub mod errors;
pub mod hash_chain;
pub mod job;
pub mod pipeline;
pub mod run;
pub mod sessions;
pub mod sink;
pub mod sweeper;
pub mod uploader;

pub use context::WorkerContext;
pub use job::run_workers;
