use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = netlab::cli::Cli::parse();
    match netlab::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => netlab::output::report_fatal(&err),
    }
}
