//! The `ml-connector` command line. Each subcommand lives in its own module; `main.rs` only
//! calls [`run`].

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
    /// Serve IFS Cloud and UPS simulators until killed (for tests, demos and connector authors).
    Simulate(simulators::SimulateArgs),
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
            Command::Simulate(args) => match simulators::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            },
        }
    })
}
