//! `ml-connector store check`: SQLite's full integrity check of a data directory's store, for
//! operators (after a disk problem, before and after a backup restore). The service runs a
//! time-bounded quick check at every start and refuses a damaged store; this is the full one.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::items::DataLocation;
use crate::config::Config;
use crate::db::{DB_FILE, Integrity, check_data_dir};

/// Arguments of `store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Run SQLite's full integrity check (read-only; stop the service first for a consistent
    /// answer). Exits 0 when the store is sound, 1 when it is damaged.
    Check(DataLocation),
}

/// Runs a `store` subcommand, writing its report to `out`.
pub fn run(args: StoreArgs, out: &mut dyn Write) -> ExitCode {
    match args.command {
        StoreCommand::Check(location) => check(&location, out),
    }
}

fn check(location: &DataLocation, out: &mut dyn Write) -> ExitCode {
    let dir: PathBuf = match (&location.data_dir, &location.config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => match Config::load(config) {
            Ok(c) => c.service.data_dir,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        (None, None) => {
            eprintln!("error: give --data-dir or --config");
            return ExitCode::from(2);
        }
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let file = dir.join(DB_FILE);
    if !file.is_file() {
        eprintln!("error: no ml-connector store at {}", file.display());
        return ExitCode::from(2);
    }
    let written = match check_data_dir(&dir, true, None) {
        Ok(Integrity::Ok) | Ok(Integrity::Unfinished) => writeln!(
            out,
            "ok: {} passed SQLite's integrity check",
            file.display()
        )
        .map(|()| ExitCode::SUCCESS),
        Ok(Integrity::Damaged(problems)) => {
            let mut report = format!("damaged: {}\n", file.display());
            for p in &problems {
                report.push_str(&format!("  {p}\n"));
            }
            report.push_str(
                "Recovery: stop every ml-connector using this data directory and restore it from \
                 your last backup (README: \"The data directory and backups\", which also says \
                 how to keep shipments processed after the backup from being created again).\n",
            );
            out.write_all(report.as_bytes()).map(|()| ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    written.unwrap_or(ExitCode::FAILURE)
}
