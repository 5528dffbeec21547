//! Command-line interface.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "haul",
    version,
    about = "Export all of your PostgreSQL data to S3, reliably."
)]
pub struct Cli {
    /// TOML configuration file, layered over the built-in defaults;
    /// HAUL__SECTION__KEY environment variables override both.
    #[arg(long, short, global = true, env = "HAUL_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API.
    Serve,
    /// Run export workers.
    Work,
    /// Serve the API and run workers in one process.
    All,
    /// Create or update Haul's tables and the job queue (idempotent).
    Migrate,
    /// Client of a running Haul: create, follow, download and list exports
    /// (uses --url/HAUL_URL and --api-key/HAUL_API_KEY, not --config).
    Export(Box<crate::export_args::ExportArgs>),
    /// Benchmark aid: run an export's read and encode path into a sink
    /// that drops the output (no S3), and print rows, bytes and timings.
    BenchEncode(crate::bench_encode::BenchEncodeArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key for a tenant; prints the key (shown only this once).
    Create {
        #[arg(long)]
        tenant: String,
    },
    /// List keys: prefix, tenant, creation time (never the keys themselves).
    List,
    /// Revoke the key with this prefix; takes effect at once.
    Revoke { prefix: String },
}
