//! Running a step's command: in this process (shown as usual, recorded as JSON for the
//! questions), in a network namespace of its own as a child netlab, or from the capture
//! shipped with netlab when a live capture is not possible here.

use super::argv;
use super::session::{Plan, Say, Source};
use crate::error::Hinted;
use crate::output::{Format, Output};
use serde_json::{json, Value};
use std::io;

/// Run a step's command (or, for a capture that cannot be live, its fallback) and return
/// what it recorded as `{"report": ..., "events": [...]}`, the command as shown, where the
/// packets came from, and why the fallback was used.
pub(super) fn run_step(
    plan: &Plan,
    out: &mut Output,
    command: &str,
    fallback: Option<&str>,
) -> anyhow::Result<(Value, String, Source, Option<String>)> {
    let shown = command.replace(crate::labs::SEED, &plan.seed.unwrap_or(1).to_string());
    if let Some(fb) = fallback {
        if plan.offline {
            let note = format!(
                "--offline: reading the capture shipped with netlab instead of capturing live \
                 (`{shown}`); its numbers are the same for every student"
            );
            return shipped(plan, out, fb, note);
        }
    }
    out.event(&Say::Run {
        command: shown.clone(),
    })?;
    match in_process(plan, out, command) {
        Ok(doc) => Ok((doc, shown, Source::Live, None)),
        Err(e) => {
            let Some(fb) = fallback else {
                return Err(e.context(Hinted::failure(format!(
                    "lab {}: the step's command `{shown}` failed",
                    plan.lab.id
                ))));
            };
            let why = crate::output::describe_fatal(&e)
                .map(|f| f.message)
                .unwrap_or_else(|| e.to_string());
            let note = format!(
                "no live capture here ({why}); reading the capture shipped with netlab instead, \
                 so its numbers are the same for every student. With root, or where user \
                 namespaces are allowed, this step captures your own packets"
            );
            shipped(plan, out, fb, note)
        }
    }
}

fn shipped(
    plan: &Plan,
    out: &mut Output,
    fallback: &str,
    note: String,
) -> anyhow::Result<(Value, String, Source, Option<String>)> {
    out.event(&Say::Notice { text: note.clone() })?;
    out.event(&Say::Run {
        command: fallback.to_owned(),
    })?;
    let doc = in_process(plan, out, fallback).map_err(|e| {
        e.context(
            Hinted::failure(format!("lab {}: `{fallback}` failed", plan.lab.id)).with_hint(
                "the shipped captures are built into netlab (`netlab capture --examples`); \
                 labs/labs.toml may name one that is not: `cargo test --test lab` shows it",
            ),
        )
    })?;
    Ok((doc, fallback.to_owned(), Source::ShippedCapture, Some(note)))
}

/// Run one netlab command in this process: shown to the student as usual (human format),
/// recorded as JSON for the questions.
fn in_process(plan: &Plan, out: &Output, command: &str) -> anyhow::Result<Value> {
    let (words, cli) = argv(command, plan.seed.unwrap_or(1)).map_err(|e| {
        Hinted::failure(format!("`{command}`: {e}"))
            .with_hint("labs/labs.toml has drifted from the CLI; `cargo test --test lab` shows it")
    })?;
    if words.iter().any(|w| w == "--own-namespace") {
        return in_child(plan, out, &words);
    }
    let (doc, outcome) = recorded(plan, out, cli);
    outcome.map(|()| doc)
}

/// Run a parsed command in this process; what it recorded (as [`document`]) whether it
/// succeeded or not, and how it ended. A command that fails may have reported first
/// (`udp send` reports its datagrams, then fails on the ICMP error).
pub(super) fn recorded(
    plan: &Plan,
    out: &Output,
    cli: crate::cli::Cli,
) -> (Value, anyhow::Result<()>) {
    let stdout: Box<dyn io::Write + Send> = if plan.narrate_to_stderr {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let stderr: Box<dyn io::Write + Send> = Box::new(io::stderr());
    let mut inner = Output::new(Format::Human, out.style().clone(), stdout, stderr);
    inner.record();
    let outcome = crate::cmd::dispatch(cli.command, &mut inner);
    let rec = inner.take_recorded().unwrap_or_default();
    let doc = document(
        rec.reports.last().cloned().unwrap_or(Value::Null),
        rec.events,
    );
    (doc, outcome)
}

/// Run a capture in a namespace of its own as a child netlab: the capture happens in a
/// re-run of netlab inside the namespace, so its report comes back through
/// [`crate::cmd::RECORD_ENV`], one JSON line per netlab process; the capture's is the
/// line of the `capture` command.
fn in_child(plan: &Plan, out: &Output, words: &[String]) -> anyhow::Result<Value> {
    use std::process::{Command, Stdio};
    let me = std::env::current_exe()
        .map_err(|e| Hinted::failure(format!("could not find netlab's own path: {e}")))?;
    let mut args: Vec<String> = words[1..].to_vec();
    // The command after `--` is this netlab too.
    if let Some(dash) = args.iter().position(|w| w == "--") {
        if args.get(dash + 1).map(String::as_str) == Some("netlab") {
            args[dash + 1] = me.to_string_lossy().into_owned();
        }
    }
    let record = std::env::temp_dir().join(format!(
        "netlab-lab-{}-{}.jsonl",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let mut child = Command::new(&me);
    child
        .args(&args)
        .env(crate::cmd::RECORD_ENV, &record)
        .stdin(Stdio::null());
    if !out.style().color {
        child.env("NO_COLOR", "1");
    }
    child
        .stdout(if plan.narrate_to_stderr {
            Stdio::from(io::stderr())
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::piped());
    let result = child
        .output()
        .map_err(|e| Hinted::failure(format!("could not run netlab again: {e}")));
    let text = std::fs::read_to_string(&record).unwrap_or_default();
    let _ = std::fs::remove_file(&record);
    let o = result?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let why = err
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or("see the messages above")
            .to_owned();
        return Err(Hinted::failure(why).into());
    }
    let line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v["command"] == "capture")
        .ok_or_else(|| Hinted::failure("the capture reported nothing"))?;
    let report = line["reports"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or(Value::Null);
    let events = line["events"].as_array().cloned().unwrap_or_default();
    Ok(document(report, events))
}

/// What questions point into: the command's last report, its events, and (for a
/// capture) just the packet events, so `/packets/0` is the first packet whether or not
/// a live capture first said it had started.
pub fn document(report: Value, events: Vec<Value>) -> Value {
    let packets: Vec<Value> = events
        .iter()
        .filter(|e| e.get("captured_len").is_some())
        .cloned()
        .collect();
    json!({"report": report, "events": events, "packets": packets})
}
