use clap::Parser;
use std::process::ExitCode;

// netlab's views build many small strings per packet (one per header field); glibc's
// allocator spent a third of `capture --layers` in malloc and free. See docs/performance.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = netlab::cli::Cli::parse();
    match netlab::app::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => netlab::output::report_fatal(&err),
    }
}
