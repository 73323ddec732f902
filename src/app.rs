//! Builds the output and the runtime once, then hands the command to its lab in `cmd/`.

use crate::cli::{Cli, ColorArg, Command};
use crate::cmd;
use crate::output::{ColorWhen, Format, Output};

/// Run one parsed command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let format = if cli.global.json {
        Format::Json
    } else if cli.global.jsonl {
        Format::Jsonl
    } else {
        Format::Human
    };
    let color = match cli.global.color {
        ColorArg::Auto => ColorWhen::Auto,
        ColorArg::Always => ColorWhen::Always,
        ColorArg::Never => ColorWhen::Never,
    };
    let mut out = Output::stdio(format, color);
    match cli.command {
        Command::Osi(_) => cmd::osi::run(&mut out),
        Command::Tcp(args) => cmd::tcp::run(args, &mut out),
        Command::Udp(args) => cmd::udp::run(args, &mut out),
        Command::Ws(args) => cmd::ws::run(args, &mut out),
        Command::Capture(args) => cmd::capture::run(args.try_into()?, &mut out),
        Command::Compare(args) => cmd::compare::run(args, &mut out),
        Command::Explain(args) => cmd::explain::run(args.try_into()?, &mut out),
        Command::Tour(args) => cmd::tour::run(args, &mut out),
    }
}

/// Which tokio runtime a lab needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// One thread: enough for a lab whose point is not concurrency.
    CurrentThread,
    /// Worker threads: for servers meant to carry load and for benchmarks.
    MultiThread,
}

/// Build a tokio runtime of the given kind.
pub fn runtime(kind: Runtime) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = match kind {
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Runtime::MultiThread => tokio::runtime::Builder::new_multi_thread(),
    };
    Ok(builder.enable_all().build()?)
}
