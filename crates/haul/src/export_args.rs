//! Arguments of `haul export …`, the command-line client of the HTTP API.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Haul's base URL, e.g. https://haul.example.com.
    #[arg(long, env = "HAUL_URL", global = true)]
    pub url: Option<String>,
    /// The API key (sent as a Bearer token).
    #[arg(long, env = "HAUL_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,

    #[command(subcommand)]
    pub command: ExportCommand,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Request an export; prints its id (with --wait, follows it to the end).
    Create(Box<CreateArgs>),
    /// Show an export.
    Status {
        id: uuid::Uuid,
        /// Print the export resource as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Wait until an export finishes, with a progress bar on a terminal;
    /// exits non-zero unless it succeeded.
    Wait {
        id: uuid::Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Download an export's file; continues a partial file and verifies
    /// the SHA-256 at the end.
    Download(DownloadArgs),
    /// List your exports, newest first.
    List {
        /// Only exports with this status (queued, running, succeeded, ...).
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running export (or delete a finished one's file).
    Cancel {
        id: uuid::Uuid,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The dataset to export (see GET /v1/datasets).
    pub dataset: String,
    /// csv (default), tsv, ndjson or json.
    #[arg(long)]
    pub format: Option<String>,
    /// none (default), gzip or zstd.
    #[arg(long)]
    pub compression: Option<String>,
    /// Columns in the order wanted, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Filter as JSON, e.g. '{"kind": {"eq": "buy"}}'.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only rows after this cursor (an earlier export's result.next_since).
    #[arg(long)]
    pub since: Option<String>,
    /// The file's name (the format's extension is appended).
    #[arg(long)]
    pub filename: Option<String>,
    /// Write a header line (csv, tsv; the default).
    #[arg(long, overrides_with = "no_header")]
    pub header: bool,
    /// Leave out the header line.
    #[arg(long, overrides_with = "header")]
    pub no_header: bool,
    /// Time zone for timestamps, e.g. Europe/Berlin (default UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Haul POSTs the finished export here.
    #[arg(long)]
    pub callback_url: Option<String>,
    /// Repeating the command with the same key answers the same export.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Follow the export until it finishes, with a progress bar.
    #[arg(long)]
    pub wait: bool,
    /// Then download the file here (implies --wait).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Print the export resource as JSON instead of the id.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DownloadArgs {
    pub id: uuid::Uuid,
    /// Where to write the file (default: the export's file name, here).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Discard a partial file at --output instead of continuing it.
    #[arg(long)]
    pub restart: bool,
}

impl CreateArgs {
    pub fn header(&self) -> Option<bool> {
        match (self.header, self.no_header) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}
