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
    // `netlab lab run` runs capture steps as a child (the capture itself happens in a
    // re-run of netlab inside a namespace); this is how their reports come back.
    let record = std::env::var_os(RECORD_ENV).filter(|v| !v.is_empty());
    if record.is_some() {
        out.record();
    }
    let name = command_name(&cli.command);
    let result = dispatch(cli.command, &mut out);
    if let (Some(path), Some(rec)) = (record, out.take_recorded()) {
        append_record(std::path::Path::new(&path), name, &rec)?;
    }
    result
}

/// Environment variable naming a file to which netlab appends, as one JSON line, what the
/// command reported: `{"command": "capture", "reports": [...], "events": [...]}`.
pub const RECORD_ENV: &str = "NETLAB_LAB_RECORD";

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Osi(_) => "osi",
        Command::Tcp(_) => "tcp",
        Command::Udp(_) => "udp",
        Command::Ws(_) => "ws",
        Command::Capture(_) => "capture",
        Command::Compare(_) => "compare",
        Command::Explain(_) => "explain",
        Command::Tour(_) => "tour",
        Command::Lab(_) => "lab",
    }
}

fn append_record(
    path: &std::path::Path,
    name: &str,
    rec: &crate::output::Recorded,
) -> anyhow::Result<()> {
    use std::io::Write;
    if rec.reports.is_empty() && rec.events.is_empty() {
        return Ok(());
    }
    let line = serde_json::json!({"command": name, "reports": rec.reports, "events": rec.events});
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")?;
    Ok(())
}

/// Hand one parsed command to its lab. `netlab lab run` also comes here to run a step's
/// command in-process, with an `Output` of its own.
pub fn dispatch(command: Command, out: &mut Output) -> anyhow::Result<()> {
    match command {
        Command::Osi(_) => cmd::osi::run(out),
        Command::Tcp(args) => cmd::tcp::run(args, out),
        Command::Udp(args) => cmd::udp::run(args, out),
        Command::Ws(args) => cmd::ws::run(args, out),
        Command::Capture(args) => cmd::capture::run(args.try_into()?, out),
        Command::Compare(args) => cmd::compare::run(args, out),
        Command::Explain(args) => cmd::explain::run(args.try_into()?, out),
        Command::Tour(args) => cmd::tour::run(args, out),
        Command::Lab(args) => cmd::lab::run(args, out),
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
