//! The `haul` binary's library: configuration loading, start-up checks and
//! the `serve` / `work` / `all` / `migrate` / `keys` / `export` commands,
//! callable from tests as well as from `main`.

pub mod bench_encode;
pub mod cli;
pub mod config;
pub mod export_args;
pub mod export_cmd;
pub mod keys;
pub mod memory;
pub mod progress;
pub mod services;
pub mod signals;
pub mod telemetry;

pub use services::Services;
