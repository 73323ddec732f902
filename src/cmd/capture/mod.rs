//! `netlab capture`: read frames (live or from a file), decode them with
//! `wire::dissect`, filter, annotate TCP conversations, and hand each packet to
//! `output` as an event; a summary report ends the run.
//!
//! The protocol decisions are all in `wire/`: the decoders, `wire::dissect::filter`, and
//! `wire::dissect::flow`'s conversation table and reassembler (RFC 9293 §3.3.2 for the states,
//! §3.4 for sequence numbers). The frames come from `net::capture`; `output` prints
//! (the one-line view is `output::oneline`). This folder composes them:
//!
//! | file | what it does |
//! |---|---|
//! | `mod.rs` | [`Plan`] (the command line, validated), [`run`], reading a file, `--list`, the hints for capture errors |
//! | `live.rs` | live capture on an interface |
//! | `namespace.rs` | `--own-namespace`: a command's traffic, captured in a network namespace of its own |
//! | `pipeline.rs` | every frame's way: decode, filter, count, `--write`, then `--stats`, `--follow` or a packet event |
//! | `report.rs` | what goes to `output`: [`PacketEvent`] (the one-line view, the detailed views, JSON) and [`CaptureSummary`] |
//! | `applayers.rs` | application layers (HTTP, WebSocket, DNS over TCP) per packet, for JSON and the detailed views |
//! | `follow.rs` | `--follow`: one conversation's reassembled bytes (Wireshark's "Follow TCP Stream") |
//! | `stats.rs` | `--stats`: protocol hierarchy, conversations and the reassembler's notes |

pub mod applayers;
pub mod follow;
mod live;
mod namespace;
mod pipeline;
pub mod report;
pub mod stats;

#[cfg(feature = "capture")]
pub use report::InterfaceList;
pub use report::{CaptureStarted, CaptureSummary, Decoded, ExampleList, LayerOut, PacketEvent};

use crate::cli::capture::CaptureArgs;
use crate::error::{usage, HintExt, Hinted};
use crate::net::capture::{CaptureError, FileSource, RecordProblem};
use crate::output::Output;
use crate::shipped::{self, Example};
use crate::wire::dissect::filter::Filter;
use crate::wire::dissect::flow::{Limits, Which};
use live::live;
use namespace::{in_namespace, own_namespace};
use pipeline::Pipeline;
use std::path::PathBuf;
use std::time::Duration;

/// Where packets come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    /// A capture built into netlab (`--example NAME`).
    Example(&'static Example),
    /// `--examples`: list the built-in captures.
    Examples,
    Live {
        interface: Option<String>,
    },
    /// Re-run netlab inside a fresh network namespace (and user namespace, when not
    /// root) around `command`.
    OwnNamespace {
        command: Vec<String>,
    },
    /// Inside that namespace: capture on its loopback while `command` runs.
    InNamespace {
        command: Vec<String>,
    },
    List,
}

/// Which views of each packet to show (human output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct View {
    pub layers: bool,
    pub osi: bool,
    pub hex: bool,
}

impl View {
    fn detailed(self) -> bool {
        self.layers || self.osi || self.hex
    }
}

/// A validated `netlab capture`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub filter: Option<PlanFilter>,
    pub view: View,
    pub write: Option<PathBuf>,
    pub queue: usize,
    /// Only the summary.
    pub quiet: bool,
    /// `--follow`: one conversation's reassembled bytes instead of packets.
    pub follow: Option<Which>,
    /// `--stats`: a protocol hierarchy and conversations table instead of packets.
    pub stats: bool,
    /// Bounds on the reassembler's memory (`--max-stream-buffer`).
    pub limits: Limits,
}

impl TryFrom<CaptureArgs> for Plan {
    type Error = anyhow::Error;

    fn try_from(a: CaptureArgs) -> anyhow::Result<Plan> {
        check_sources(&a)?;
        if a.count == Some(0) {
            return Err(usage(
                "--count must be at least 1",
                "leave it out to capture until the end (or Ctrl-C)",
            ));
        }
        let duration = match a.duration {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Some(Duration::from_secs_f64(s)),
            Some(s) => {
                return Err(usage(
                    format!("--duration {s} is not a positive number of seconds"),
                    "for example --duration 5",
                ))
            }
        };
        if a.queue == 0 {
            return Err(usage("--queue must be at least 1", "the default is 16384"));
        }
        let filter = if a.filter.is_empty() {
            None
        } else {
            Some(PlanFilter::parse(a.filter.join(" "))?)
        };
        let (follow, limits) = stream_options(&a)?;
        let source = if a.list {
            Source::List
        } else if a.examples {
            Source::Examples
        } else if let Some(name) = &a.example {
            Source::Example(find_example(name)?)
        } else if let Some(p) = a.read {
            Source::File(p)
        } else if a.in_namespace {
            Source::InNamespace { command: a.command }
        } else if a.own_namespace {
            Source::OwnNamespace { command: a.command }
        } else {
            Source::Live {
                interface: a.interface,
            }
        };
        Ok(Plan {
            limits,
            stats: a.stats,
            follow,
            source,
            count: a.count,
            duration,
            filter,
            view: View {
                layers: a.layers,
                osi: a.osi,
                hex: a.hex,
            },
            write: a.write,
            queue: a.queue,
            quiet: a.quiet,
        })
    }
}

/// The built-in capture `name`, or a usage error that lists them.
fn find_example(name: &str) -> anyhow::Result<&'static Example> {
    // A path where a name belongs: the student copied an old command.
    let stem = std::path::Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(name);
    shipped::example(stem).ok_or_else(|| {
        usage(
            format!("netlab has no built-in capture called `{name}`"),
            format!(
                "the built-in captures are: {} (`netlab capture --examples` says what each holds); \
                 a file of your own is read with --read FILE",
                shipped::names()
            ),
        )
    })
}

/// Options that choose where packets come from, and what cannot go together.
fn check_sources(a: &CaptureArgs) -> anyhow::Result<()> {
    if a.list && (a.read.is_some() || a.own_namespace || !a.filter.is_empty()) {
        return Err(usage(
            "--list takes no other options",
            "run `netlab capture --list` on its own",
        ));
    }
    if a.examples && (a.list || a.read.is_some() || a.example.is_some() || a.own_namespace) {
        return Err(usage(
            "--examples lists the built-in captures and takes no other source",
            "run `netlab capture --examples` on its own",
        ));
    }
    if (a.read.is_some() || a.example.is_some()) && (a.interface.is_some() || a.own_namespace) {
        return Err(usage("--read and --example take packets from a file; they cannot be combined with --interface or --own-namespace", "drop one of them"));
    }
    if !(a.command.is_empty() || a.own_namespace || a.in_namespace) {
        return Err(usage(
            "a command after `--` is only run with --own-namespace",
            "netlab capture --own-namespace -- COMMAND ...",
        ));
    }
    if (a.own_namespace || a.in_namespace) && a.command.is_empty() {
        return Err(usage(
            "--own-namespace needs a command to run, after `--`",
            "for example: netlab capture --own-namespace -- curl -s http://127.0.0.1:8000/",
        ));
    }
    if a.own_namespace && a.interface.is_some() {
        return Err(usage(
            "--own-namespace captures on the namespace's own loopback; --interface does not apply",
            "drop --interface",
        ));
    }
    Ok(())
}

/// `--follow`, `--stats` and `--max-stream-buffer`: the views that reassemble streams.
fn stream_options(a: &CaptureArgs) -> anyhow::Result<(Option<Which>, Limits)> {
    let follow = match &a.follow {
        None => None,
        Some(f) => {
            if a.layers || a.osi || a.quiet {
                return Err(usage(
                    "--follow shows one conversation's bytes; --layers, --osi and --quiet show packets",
                    "drop one of them (--hex with --follow gives a hexdump of the stream)",
                ));
            }
            Some(follow::parse_which(f)?)
        }
    };
    if a.stats && (a.follow.is_some() || a.layers || a.osi || a.hex || a.quiet) {
        return Err(usage(
            "--stats counts the whole capture; it takes no packet view, --follow or --quiet",
            "run `netlab capture --read FILE --stats` on its own, then --follow N",
        ));
    }
    let mut limits = Limits::default();
    if let Some(b) = &a.max_stream_buffer {
        if a.follow.is_none() && !a.stats {
            return Err(usage(
                "--max-stream-buffer bounds the reassembly of --follow and --stats",
                "add --follow N or --stats",
            ));
        }
        limits.max_buffered = follow::parse_bytes(b)?;
    }
    Ok((follow, limits))
}

/// A tcpdump-style filter, as typed and as parsed.
#[derive(Debug, Clone)]
pub struct PlanFilter {
    /// The words after the options, joined with spaces (shown in the summary).
    pub text: String,
    pub filter: Filter,
}

impl PlanFilter {
    fn parse(text: String) -> anyhow::Result<PlanFilter> {
        match Filter::parse(&text) {
            Ok(filter) => Ok(PlanFilter { text, filter }),
            Err(e) => {
                let marked: Vec<String> = e
                    .pointer(&text)
                    .lines()
                    .map(|l| format!("      {l}"))
                    .collect();
                let hint = format!(
                    "the filter, with the problem marked:\n{}",
                    marked.join("\n")
                );
                Err(Hinted::usage(format!("bad filter: {e}"))
                    .with_hint(hint)
                    .into())
            }
        }
    }
}

/// Run a `netlab capture` plan.
pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    match plan.source.clone() {
        Source::File(path) => {
            let src = capture_failed(
                FileSource::open(&path),
                format!("reading `{}`", path.display()),
            )?;
            read_frames(plan, src, &path.display().to_string(), out)
        }
        Source::Example(e) => {
            let label = format!("example {}", e.name);
            let src = capture_failed(
                FileSource::from_bytes_named(label.clone().into(), e.bytes.to_vec()),
                format!("reading the built-in capture `{}`", e.name),
            )?;
            read_frames(plan, src, &label, out)
        }
        Source::Examples => {
            out.report(&ExampleList::all())?;
            Ok(())
        }
        Source::List => list(out),
        Source::Live { interface } => live(plan, interface, None, out),
        Source::InNamespace { command } => in_namespace(plan, command, out),
        Source::OwnNamespace { command } => own_namespace(&plan, &command, out),
    }
}

/// Wrap a capture error: `message` says what netlab was doing, the hint what the student
/// can do about it (`net::capture` names the defect and knows nothing of netlab's flags).
fn capture_failed<T>(r: Result<T, CaptureError>, message: String) -> anyhow::Result<T> {
    match r.as_ref().err().and_then(hint) {
        Some(h) => r.hinted(message, h),
        None => r.failed(message),
    }
}

/// What the student can do about a capture error, in netlab's own flags.
fn hint(e: &CaptureError) -> Option<&'static str> {
    Some(match e {
        CaptureError::PermissionDenied { .. } => {
            "capture needs the CAP_NET_RAW capability. Run it with sudo; or grant it once: \
             `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v netlab)`; or read a saved \
             capture with `--read FILE`; or capture a command's traffic in a namespace of its own: \
             `netlab capture --own-namespace -- COMMAND`"
        }
        CaptureError::NoSuchInterface(_) => "list the interfaces with `netlab capture --list`",
        CaptureError::NotACapture { .. } => {
            "netlab reads pcap (.pcap) and pcapng (.pcapng) files, as tcpdump -w and Wireshark write them"
        }
        CaptureError::UnsupportedLink { .. } => {
            "netlab decodes Ethernet, Linux cooked (SLL, SLL2), raw IP and BSD loopback captures; \
             capture with `tcpdump -i lo -w FILE` or `tcpdump -i any -w FILE`"
        }
        CaptureError::Record { .. } => {
            "the packets before this record were shown; the file may be damaged or still being written"
        }
        CaptureError::NotBuilt => "rebuild with `cargo build --features capture`, or use `--read FILE`",
        // The generic hint for "permission denied" is about ports and raw sockets; here it
        // is the file system that refused, so say that instead.
        CaptureError::Write { source, .. } | CaptureError::OpenFile { source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            "you may not write or read that file: the file or its folder does not allow it \
             (`ls -ld FOLDER` shows who may). Choose a folder of your own, for example \
             `-w /tmp/mine.pcap`, or change the permissions"
        }
        CaptureError::Open { .. }
        | CaptureError::UnsupportedInterface(_)
        | CaptureError::OpenFile { .. }
        | CaptureError::Write { .. } => return None,
    })
}

/// Every frame of a file (or a built-in capture), through the pipeline; `label` names it.
fn read_frames(
    plan: Plan,
    mut src: FileSource,
    label: &str,
    out: &mut Output,
) -> anyhow::Result<()> {
    out.buffer_events();
    let source = format!("{label} ({})", src.format);
    let mut p = Pipeline::new(out, plan, source)?;
    let mut fatal = None;
    loop {
        match src.next_frame() {
            None => break,
            Some(Ok(f)) => {
                if p.frame(f)? {
                    break;
                }
            }
            Some(Err(RecordProblem::Truncated { record })) => {
                p.summary.truncated_record = Some(record);
                break;
            }
            Some(Err(problem)) => {
                fatal = Some(src.error(&problem));
                break;
            }
        }
    }
    p.summary.interfaces = src.interfaces().to_vec();
    let summary = p.finish()?;
    if let Some(record) = summary.truncated_record {
        return Err(truncated(label, record).into());
    }
    match fatal {
        Some(e) => capture_failed(Err(e), format!("reading `{label}` stopped")),
        None => Ok(()),
    }
}

/// A file that ends in the middle of record `record`: every complete record was shown,
/// and the exit code (3) tells a script the file was not whole.
fn truncated(label: &str, record: u64) -> Hinted {
    Hinted::incomplete(format!(
        "`{label}` is truncated: it ends in the middle of record {record}; the {} complete \
         records before it were read",
        record - 1
    ))
    .with_hint(
        "the capture was cut short (a disk full, a copy interrupted, tcpdump killed while \
         writing); netlab exits with code 3 for a file like this",
    )
}

#[cfg(not(feature = "capture"))]
fn list(_out: &mut Output) -> anyhow::Result<()> {
    capture_failed(Err(CaptureError::NotBuilt), "listing interfaces".into())
}

#[cfg(feature = "capture")]
fn list(out: &mut Output) -> anyhow::Result<()> {
    out.report(&InterfaceList {
        interfaces: crate::net::capture::interfaces(),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let mut v = vec!["netlab", "capture"];
        v.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(v).unwrap();
        match cli.command {
            crate::cli::Command::Capture(a) => Plan::try_from(a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn plans_validate() {
        let p = plan(&["--read", "x.pcap", "tcp", "port", "80"]).unwrap();
        assert_eq!(p.source, Source::File("x.pcap".into()));
        assert_eq!(p.filter.unwrap().text, "tcp port 80");
        let p = plan(&["--own-namespace", "--", "curl", "-s", "x"]).unwrap();
        assert_eq!(
            p.source,
            Source::OwnNamespace {
                command: vec!["curl".into(), "-s".into(), "x".into()]
            }
        );
        for bad in [
            &["--count", "0"][..],
            &["--duration=-1"],
            &["--read", "x", "--interface", "lo"],
            &["--own-namespace"],
            &["--", "curl"],
            &["tcp", "prot", "80"],
            &["--list", "tcp"],
        ] {
            let e = plan(bad).unwrap_err();
            let h = e.downcast_ref::<Hinted>().expect("a hinted usage error");
            assert_eq!(h.kind, crate::error::ErrorKind::Usage, "{bad:?}");
        }
    }

    #[test]
    fn capture_errors_get_their_hint_here() {
        let hinted = |e: CaptureError| {
            let e = capture_failed::<()>(Err(e), "capturing on `x`".into()).unwrap_err();
            let h = e
                .downcast_ref::<Hinted>()
                .expect("a Hinted context")
                .clone();
            assert_eq!(
                (h.message.as_str(), h.kind),
                ("capturing on `x`", crate::error::ErrorKind::Failure)
            );
            h.hint
        };
        let h = hinted(CaptureError::NoSuchInterface("x".into())).unwrap();
        assert!(h.contains("netlab capture --list"), "{h}");
        let h = hinted(CaptureError::PermissionDenied {
            iface: "lo".into(),
            source: std::io::ErrorKind::PermissionDenied.into(),
        })
        .unwrap();
        assert!(h.contains("--own-namespace") && h.contains("--read"), "{h}");
        // No hint of ours: the generic one for the I/O error may still come.
        let write = CaptureError::Write {
            path: "x.pcap".into(),
            source: std::io::ErrorKind::StorageFull.into(),
        };
        assert_eq!(hinted(write), None);
    }

    #[test]
    fn a_file_that_may_not_be_written_gets_a_hint_about_the_file_not_about_ports() {
        // `capture -w` into a folder without write permission once got the generic hint
        // for "permission denied": ports below 1024. Root never sees EACCES, so the error
        // is built here rather than provoked.
        let write = CaptureError::Write {
            path: "/locked/x.pcap".into(),
            source: std::io::ErrorKind::PermissionDenied.into(),
        };
        let e = capture_failed::<()>(Err(write), "writing `/locked/x.pcap`".into()).unwrap_err();
        let h = crate::output::describe_fatal(&e).unwrap().hint.unwrap();
        assert!(h.contains("folder") && h.contains("-w /tmp/"), "{h}");
        assert!(!h.contains("1024"), "{h}");
    }
}
