//! Error type of the simulators crate.

use std::net::SocketAddr;

/// Everything that can go wrong when starting or driving the simulators.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Any other I/O failure (e.g. writing the start-up line).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A fault specification could not be understood.
    #[error("invalid fault spec `{spec}`: {reason}")]
    FaultSpec {
        /// The text or JSON that was given.
        spec: String,
        /// Why it was refused.
        reason: String,
    },
    /// The record asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The input was refused (unknown field, wrong type, …).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Waiting for the background webhook pump timed out or it has stopped.
    #[error("webhook pump unavailable: {0}")]
    Pump(String),
}
