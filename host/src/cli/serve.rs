//! `ml-connector serve --config FILE`: the long-lived service.

//!
//! This is the composition root: the service, and the admin API over it, are put together
//! here (and in [`serve_on`] for the demo and the tests), so `admin` depends on `service` and
//! never the reverse.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::Config;
use crate::service::{Service, ServiceError, ServiceOptions};

/// Serves `service` with its admin API on listeners the caller bound, until shutdown.
pub async fn serve_on(
    service: Arc<Service>,
    webhook_listener: tokio::net::TcpListener,
    admin_listener: tokio::net::TcpListener,
) -> Result<(), ServiceError> {
    let admin = crate::admin::router(service.clone());
    service.serve(webhook_listener, admin_listener, admin).await
}

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The TOML configuration file.
    #[arg(long, env = "MLC_CONFIG")]
    pub config: PathBuf,
}

/// Runs the service until SIGTERM or SIGINT, then shuts down gracefully (exit 0).
pub async fn run(args: ServeArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(config.service.log_format);
    let service = match Service::build(config, ServiceOptions::default()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stopper = service.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: finishing in-flight work");
        stopper.shutdown();
    });
    let admin = crate::admin::router(service.clone());
    match service.run(admin).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
