//! Logs: text for people, JSON for log pipelines (`log.format`).

use haul_core::config::{LogFormat, LogSettings};
use tracing_subscriber::EnvFilter;

/// `RUST_LOG` overrides `log.level` when set.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
