//! Logging: `tracing` to stderr as human-readable text or one JSON object per line, filtered by
//! `RUST_LOG` (default `info,wasmtime=warn`).

use tracing_subscriber::EnvFilter;

pub use crate::config::LogFormat;

/// The filter used when `RUST_LOG` is not set.
pub const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift=warn";

/// Installs the global subscriber. A second call (tests, an embedding) leaves the first in
/// place.
pub fn init(format: LogFormat) {
    init_with_default(format, DEFAULT_FILTER);
}

/// Like [`init`], with another filter when `RUST_LOG` is not set (the demo keeps the terminal
/// for its progress and logs only warnings).
pub fn init_with_default(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    if result.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
    }
}
