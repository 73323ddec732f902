//! Builds the output once, runs the command through [`cmd::dispatch`], and appends what it
//! reported to the lab record file when [`cmd::RECORD_ENV`] names one.

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
    let record = std::env::var_os(cmd::RECORD_ENV).filter(|v| !v.is_empty());
    if record.is_some() {
        out.record();
    }
    let name = command_name(&cli.command);
    let result = cmd::dispatch(cli.command, &mut out);
    if let (Some(path), Some(rec)) = (record, out.take_recorded()) {
        append_record(std::path::Path::new(&path), name, &rec)?;
    }
    result
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Osi(_) => "osi",
        Command::Tcp(_) => "tcp",
        Command::Udp(_) => "udp",
        Command::Ws(_) => "ws",
        Command::Socketio(_) => "socketio",
        Command::Queue(_) => "queue",
        Command::Capture(_) => "capture",
        Command::Compare(_) => "compare",
        Command::Proxy(_) => "proxy",
        Command::Delivery(_) => "delivery",
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
