//! The only module that writes to stdout or stderr.
//!
//! Labs hand data to [`Output`]; they never print. Every report is a `Serialize` struct
//! that also implements [`Render`], so the same facts come out as a table for people
//! (`human`), one JSON document (`--json`) or one JSON object per line (`--jsonl`).
//!
//! - [`Output::report`]: a command's final result.
//! - [`Output::event`]: one thing that happened, for streaming commands (a line for people,
//!   a JSON object per line with `--jsonl`; with `--json`, events are part of the report
//!   and are not printed on their own).
//! - [`Output::data`]: raw bytes a peer sent, for netcat-like commands (human mode only).
//! - [`Output::progress`]: a transient status line on a terminal's stderr.
//! - [`report_fatal`]: `error: …` and `hint: …` on stderr, and the exit code.

pub mod chunk;
pub mod diagram;
pub mod follow;
pub mod hexdump;
pub mod oneline;
pub mod packet;
pub mod style;
pub mod wrap;

pub use diagram::{Step, Timeline};
pub use style::{Paint, Style};

use crate::error::{ErrorKind, Hinted};
use serde::Serialize;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables, diagrams and sentences for people.
    Human,
    /// One pretty-printed JSON document per command.
    Json,
    /// One compact JSON object per line: every event, then the report.
    Jsonl,
}

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Anything a lab reports: serialisable for scripts, renderable for people.
pub trait Render: Serialize {
    /// The human form. May span several lines; a trailing newline is optional.
    fn render_human(&self, style: &Style) -> String;

    /// The human form appended to `out`. Streams of many small events (a capture's
    /// packets) implement it so that one buffer serves every event.
    fn render_human_into(&self, style: &Style, out: &mut String) {
        out.push_str(&self.render_human(style));
    }
}

/// Narrower than this, a terminal's reported width is not believed (see `Output::stdio`).
const MIN_TABLE_WIDTH: u16 = 40;

/// Where output goes, and how it looks. Built once in `app`.
pub struct Output {
    format: Format,
    style: Style,
    stdout: Box<dyn Write + Send>,
    stderr: Box<dyn Write + Send>,
    /// Human events go to stderr when stdout carries a peer's raw bytes (netcat-like).
    narrate_to_stderr: bool,
    /// Whether progress lines may be drawn (stderr is a terminal, human format).
    progress: bool,
    progress_drawn: bool,
    /// Flush after every event (live streams); off for bulk output such as reading a
    /// large capture file, where one write per line would dominate the run time.
    flush_each_event: bool,
    /// `netlab lab run`: a JSON copy of every report and event printed, so the lab can
    /// check answers against the very run the student watched.
    recorded: Option<Recorded>,
    /// The text of the event being printed, kept between events for its capacity.
    line: String,
}

/// What an [`Output`] printed, as JSON values (see [`Output::record`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recorded {
    /// Every report, in order (a command normally makes one).
    pub reports: Vec<serde_json::Value>,
    /// Every event, in order.
    pub events: Vec<serde_json::Value>,
}

impl Output {
    /// Output to the process's stdout and stderr. Colour follows `color`, `NO_COLOR`
    /// (any non-empty value turns it off, see no-color.org) and whether stdout is a
    /// terminal.
    pub fn stdio(format: Format, color: ColorWhen) -> Output {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let tty = io::stdout().is_terminal();
        let color = match color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => tty && !no_color_env && format == Format::Human,
        };
        // On a terminal, tables fit its width; in a pipe they keep their natural width.
        // A terminal that reports a tiny width (0 columns: a pseudo-terminal nobody
        // sized, as under `script` or some CI runners) counts as unknown: squeezing a
        // table into it would leave one letter per line.
        let width = if tty {
            comfy_table::Table::new()
                .width()
                .filter(|&w| w >= MIN_TABLE_WIDTH)
        } else {
            None
        };
        let style = Style {
            color,
            unicode: true,
            width,
        };
        let mut out = Output::new(
            format,
            style,
            Box::new(io::stdout()),
            Box::new(io::stderr()),
        );
        out.progress = format == Format::Human && io::stderr().is_terminal();
        out
    }

    /// Output to any writers (tests pass `Vec<u8>`-backed sinks).
    pub fn new(
        format: Format,
        style: Style,
        stdout: Box<dyn Write + Send>,
        stderr: Box<dyn Write + Send>,
    ) -> Output {
        Output {
            format,
            style,
            stdout,
            stderr,
            narrate_to_stderr: false,
            progress: false,
            progress_drawn: false,
            flush_each_event: true,
            recorded: None,
            line: String::new(),
        }
    }

    /// Keep a JSON copy of every report and event from now on, whatever the format.
    pub fn record(&mut self) {
        self.recorded.get_or_insert_with(Recorded::default);
    }

    /// Whether [`Output::record`] is on: a command may then add to its human-format
    /// events the fields it would otherwise compute only for JSON.
    pub fn is_recording(&self) -> bool {
        self.recorded.is_some()
    }

    /// What was recorded since [`Output::record`] (and stop recording).
    pub fn take_recorded(&mut self) -> Option<Recorded> {
        self.recorded.take()
    }

    /// For bulk streams (a capture file of a million packets): buffer stdout and stop
    /// flushing after each event. `report` still flushes at the end.
    pub fn buffer_events(&mut self) {
        if self.flush_each_event {
            let inner = std::mem::replace(&mut self.stdout, Box::new(io::sink()));
            self.stdout = Box::new(io::BufWriter::with_capacity(64 * 1024, inner));
            self.flush_each_event = false;
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn style(&self) -> &Style {
        &self.style
    }

    /// For netcat-like commands: stdout carries the peer's bytes, so human narration
    /// moves to stderr and the two can be redirected apart.
    pub fn narrate_to_stderr(&mut self) {
        self.narrate_to_stderr = true;
    }

    /// Print a command's result.
    pub fn report<R: Render>(&mut self, r: &R) -> io::Result<()> {
        self.clear_progress()?;
        if let Some(rec) = self.recorded.as_mut() {
            rec.reports
                .push(serde_json::to_value(r).map_err(io::Error::from)?);
        }
        match self.format {
            Format::Human => {
                let text = r.render_human(&self.style);
                write_text(&mut self.stdout, &text)?;
            }
            Format::Json => {
                serde_json::to_writer_pretty(&mut self.stdout, r).map_err(io::Error::from)?;
                writeln!(self.stdout)?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut self.stdout, r).map_err(io::Error::from)?;
                writeln!(self.stdout)?;
            }
        }
        self.stdout.flush()
    }

    /// Print one event of a streaming command.
    pub fn event<E: Render>(&mut self, e: &E) -> io::Result<()> {
        self.clear_progress()?;
        if let Some(rec) = self.recorded.as_mut() {
            rec.events
                .push(serde_json::to_value(e).map_err(io::Error::from)?);
        }
        match self.format {
            Format::Human => {
                let mut text = std::mem::take(&mut self.line);
                text.clear();
                e.render_human_into(&self.style, &mut text);
                let w = if self.narrate_to_stderr {
                    &mut self.stderr
                } else {
                    &mut self.stdout
                };
                write_text(w, &text)?;
                self.line = text;
                if self.flush_each_event {
                    w.flush()?;
                }
                Ok(())
            }
            Format::Json => Ok(()),
            Format::Jsonl => {
                serde_json::to_writer(&mut self.stdout, e).map_err(io::Error::from)?;
                writeln!(self.stdout)?;
                if self.flush_each_event {
                    self.stdout.flush()?;
                }
                Ok(())
            }
        }
    }

    /// Raw bytes from a peer, written as they are (human mode only: in JSON modes the
    /// command's events carry the data).
    pub fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.format == Format::Human {
            self.clear_progress()?;
            self.stdout.write_all(bytes)?;
            self.stdout.flush()?;
        }
        Ok(())
    }

    /// A transient status line ("sent 1.2 GB, 3 s left") on a terminal's stderr; nothing
    /// when stderr is not a terminal or the format is JSON.
    pub fn progress(&mut self, line: &str) -> io::Result<()> {
        if !self.progress {
            return Ok(());
        }
        write!(self.stderr, "\r\x1b[2K{line}")?;
        self.progress_drawn = true;
        self.stderr.flush()
    }

    /// A question for the person at the keyboard (`netlab tour --pace`): on stderr, so
    /// stdout keeps only the results; human format only.
    pub fn prompt(&mut self, text: &str) -> io::Result<()> {
        if self.format != Format::Human {
            return Ok(());
        }
        self.clear_progress()?;
        write!(self.stderr, "{text}")?;
        self.stderr.flush()
    }

    fn clear_progress(&mut self) -> io::Result<()> {
        if self.progress_drawn {
            self.progress_drawn = false;
            write!(self.stderr, "\r\x1b[2K")?;
            self.stderr.flush()?;
        }
        Ok(())
    }
}

fn write_text(w: &mut dyn Write, text: &str) -> io::Result<()> {
    w.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// What to print for a fatal error: the message line, the hint, and the exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct FatalReport {
    pub message: String,
    pub hint: Option<String>,
    pub exit_code: u8,
}

/// Decide what a fatal error looks like. `None` means "exit quietly with success":
/// a broken pipe (`netlab … | head`) is not an error.
pub fn describe_fatal(err: &anyhow::Error) -> Option<FatalReport> {
    let io_kind = err
        .chain()
        .find_map(|e| e.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    if io_kind == Some(io::ErrorKind::BrokenPipe) {
        return None;
    }
    // The message: every layer of context, outermost first, without repeats.
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !s.is_empty() && !parts.iter().any(|p| p.ends_with(&s)) {
            parts.push(s);
        }
    }
    let hinted = err.downcast_ref::<Hinted>();
    let hint = hinted
        .and_then(|h| h.hint.clone())
        .or_else(|| io_kind.and_then(io_hint).map(str::to_owned));
    let exit_code = match hinted.map(|h| h.kind) {
        Some(ErrorKind::Usage) => 2,
        Some(ErrorKind::Incomplete) => 3,
        _ => 1,
    };
    Some(FatalReport {
        message: parts.join(": "),
        hint,
        exit_code,
    })
}

/// Generic hints for I/O errors that no caller explained better.
fn io_hint(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => {
            "nothing is listening there: the peer's kernel answered the SYN with a RST. \
             Start a server first (for example `netlab tcp listen`)."
        }
        ConnectionReset => {
            "the peer's kernel sent a RST: it closed abruptly (for example with SO_LINGER 0) \
             or the process died."
        }
        AddrInUse => {
            "another socket already holds that port. Pick another port, or 0 to let the \
             kernel choose."
        }
        AddrNotAvailable => "that address does not belong to this machine.",
        PermissionDenied => {
            "ports below 1024 and raw sockets need privileges: use a port of 1024 or more, \
             or run with sudo."
        }
        TimedOut => "no answer in time: check the address, or raise the timeout.",
        _ => return None,
    })
}

/// Print a fatal error to stderr and choose the exit code (0 ok, 1 failure, 2 usage).
pub fn report_fatal(err: &anyhow::Error) -> ExitCode {
    let Some(report) = describe_fatal(err) else {
        return ExitCode::SUCCESS;
    };
    let color =
        io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let style = Style {
        color,
        ..Style::plain()
    };
    let mut stderr = io::stderr().lock();
    // If stderr itself is gone there is nobody left to tell.
    let _ = writeln!(
        stderr,
        "{} {}",
        style.paint(Paint::Bad, "error:"),
        report.message
    );
    if let Some(hint) = &report.hint {
        let _ = writeln!(stderr, "{} {}", style.paint(Paint::Warn, "hint:"), hint);
    }
    ExitCode::from(report.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{usage, HintExt};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[derive(Serialize)]
    struct Thing {
        n: u32,
    }
    impl Render for Thing {
        fn render_human(&self, _: &Style) -> String {
            format!("thing {}", self.n)
        }
    }

    fn output(format: Format) -> (Output, Sink, Sink) {
        let (o, e) = (Sink::default(), Sink::default());
        let out = Output::new(
            format,
            Style::plain(),
            Box::new(o.clone()),
            Box::new(e.clone()),
        );
        (out, o, e)
    }

    #[test]
    fn formats() {
        let (mut out, o, _) = output(Format::Human);
        out.event(&Thing { n: 1 }).unwrap();
        out.report(&Thing { n: 2 }).unwrap();
        assert_eq!(o.text(), "thing 1\nthing 2\n");

        let (mut out, o, _) = output(Format::Jsonl);
        out.event(&Thing { n: 1 }).unwrap();
        out.report(&Thing { n: 2 }).unwrap();
        assert_eq!(o.text(), "{\"n\":1}\n{\"n\":2}\n");

        let (mut out, o, _) = output(Format::Json);
        out.event(&Thing { n: 1 }).unwrap();
        out.data(b"raw").unwrap();
        out.report(&Thing { n: 2 }).unwrap();
        let v: serde_json::Value = serde_json::from_str(&o.text()).unwrap();
        assert_eq!(v["n"], 2);
    }

    #[test]
    fn narration_moves_to_stderr() {
        let (mut out, o, e) = output(Format::Human);
        out.narrate_to_stderr();
        out.event(&Thing { n: 1 }).unwrap();
        out.data(b"payload").unwrap();
        assert_eq!(o.text(), "payload");
        assert_eq!(e.text(), "thing 1\n");
    }

    #[test]
    fn fatal_carries_hint_and_exit_code() {
        let io = io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused");
        let err = Err::<(), _>(io)
            .hinted("could not connect to 127.0.0.1:9", "start a server")
            .map_err(|e| e.context("tcp connect"))
            .unwrap_err();
        let r = describe_fatal(&err).unwrap();
        assert_eq!(
            r.message,
            "tcp connect: could not connect to 127.0.0.1:9: Connection refused"
        );
        assert_eq!(r.hint.as_deref(), Some("start a server"));
        assert_eq!(r.exit_code, 1);

        let r = describe_fatal(&usage("bad port", "use 1-65535")).unwrap();
        assert_eq!((r.exit_code, r.hint.as_deref()), (2, Some("use 1-65535")));

        let cut = anyhow::Error::new(crate::error::Hinted::incomplete("x.pcap is truncated"));
        assert_eq!(describe_fatal(&cut).unwrap().exit_code, 3);
    }

    #[test]
    fn io_errors_get_a_generic_hint() {
        let io = io::Error::new(io::ErrorKind::AddrInUse, "Address in use");
        let err = Err::<(), _>(io).failed("could not listen").unwrap_err();
        let r = describe_fatal(&err).unwrap();
        assert!(r.hint.unwrap().contains("another socket"));
    }

    #[test]
    fn broken_pipe_is_not_an_error() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("x");
        assert_eq!(describe_fatal(&err), None);
    }
}
