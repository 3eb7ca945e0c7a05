//! The `ml-connector` binary: wiring only; the logic lives in the `host` library.

fn main() -> std::process::ExitCode {
    host::cli::run()
}
