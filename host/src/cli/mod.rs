//! The `ml-connector` command line. Each subcommand lives in its own module; `main.rs` only
//! calls [`run`].

pub mod demo;
pub mod items;
pub mod ping;
pub mod secrets;
pub mod serve;
pub mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ml-connector: keeps IFS Cloud and UPS in sync, with sandboxed WebAssembly connectors.
#[derive(Debug, Parser)]
#[command(name = "ml-connector", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: scheduler, webhook ingress and admin API, from a config file.
    Serve(serve::ServeArgs),
    /// Run the whole flow against the bundled simulators, with progress and a summary.
    Demo(demo::DemoArgs),
    /// Work items: list, show with their audit trail, replay failed or held ones.
    Items(items::ItemsArgs),
    /// Export the audit trail (every step of matching work items) as JSON lines.
    Audit(items::AuditArgs),
    /// Serve IFS Cloud and UPS simulators until killed (for tests, demos and connector authors).
    Simulate(simulators::SimulateArgs),
    /// Check every configured connection: get a token and make one authenticated read.
    Ping(ping::PingArgs),
    /// Manage encrypted secrets (set, list, delete, rotate the master key).
    Secrets(secrets::SecretsArgs),
    /// Check the store of a data directory (SQLite's full integrity check).
    Store(store::StoreArgs),
}

/// Parses the command line and runs the subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Items(args) => report(items::items(args, &mut std::io::stdout())),
            Command::Audit(args) => report(items::audit(args, &mut std::io::stdout())),
            Command::Simulate(args) => match simulators::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            },
            Command::Ping(args) => ping::run(args).await,
            Command::Store(args) => store::run(args, &mut std::io::stdout()),
            Command::Secrets(args) => {
                match secrets::run(args.command, &mut std::io::stdin(), &mut std::io::stdout()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
        }
    })
}

fn report<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
