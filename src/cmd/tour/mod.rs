//! `netlab tour`: the whole course in one command, on loopback, with no root and no setup.
//!
//! The tour is a thin composition of the labs that already exist: each chapter runs one
//! lab's demo in this process through its `cmd::*` function (real sockets on 127.0.0.1,
//! port 0), and the tour only adds words around it: what to look for before, and after it
//! one line that ties the numbers just measured back to the idea. Nothing is scripted:
//! every number in a takeaway is read from the chapter's report.
//!
//! - [`chapters`]: the seven chapter runners and their takeaways.
//! - [`packet`]: chapter 3's packet, captured live when netlab may, or read from a
//!   capture shipped inside the binary.
//!
//! A chapter that fails is reported (which, and why) and the tour goes on; `run` returns
//! an error at the end so the exit code says something went wrong.

pub mod chapters;
pub mod packet;

use crate::cli::tour::TourArgs;
use crate::error::Hinted;
use crate::output::wrap::prose_width;
use crate::output::{describe_fatal, Format, Output, Paint, Render, Style};
use serde::Serialize;
use std::io::{BufRead, IsTerminal};
use std::time::Instant;

/// The seven chapters, in the order of the course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chapter {
    Tcp,
    Udp,
    Layers,
    WebSocket,
    Compare,
    SocketIo,
    Delivery,
}

impl Chapter {
    pub const ALL: [Chapter; 7] = [
        Chapter::Tcp,
        Chapter::Udp,
        Chapter::Layers,
        Chapter::WebSocket,
        Chapter::Compare,
        Chapter::SocketIo,
        Chapter::Delivery,
    ];

    /// 1 to 7.
    pub fn number(self) -> u8 {
        match self {
            Chapter::Tcp => 1,
            Chapter::Udp => 2,
            Chapter::Layers => 3,
            Chapter::WebSocket => 4,
            Chapter::Compare => 5,
            Chapter::SocketIo => 6,
            Chapter::Delivery => 7,
        }
    }

    pub fn from_number(n: u8) -> Option<Chapter> {
        Chapter::ALL.into_iter().find(|c| c.number() == n)
    }

    pub fn title(self) -> &'static str {
        match self {
            Chapter::Tcp => "TCP: a connection and its byte stream",
            Chapter::Udp => "UDP: datagrams keep their boundaries, and get lost",
            Chapter::Layers => "One packet, layer by layer: OSI and TCP/IP",
            Chapter::WebSocket => "WebSocket: the handshake and the frames",
            Chapter::Compare => "HTTP polling versus WebSocket push, measured",
            Chapter::SocketIo => "Socket.IO: events, rooms and the emit cheatsheet",
            Chapter::Delivery => "Missed events: delivery guarantees, measured",
        }
    }

    /// What to look for in the demo, before it runs.
    pub fn look_for(self) -> &'static str {
        match self {
            Chapter::Tcp => {
                "A client opens TCP connections to a server on 127.0.0.1, a new one for each \
                 case; each connection is named by its 4-tuple (two addresses, two ports). The \
                 client calls write() several times, the server calls read(). Compare the two \
                 columns: \
                 TCP delivers every byte, in order, but it does not keep the boundaries between \
                 writes, so a protocol on top has to mark where its messages end (framing)."
            }
            Chapter::Udp => {
                "Now UDP, with no connection: each send_to() is one datagram, and each \
                 recv_from() takes exactly one, whole. Look for the sizes matching one for one, \
                 for what happens when the buffer is too small or nothing listens, and for \
                 loss: probes go through netlab's relay, which drops each one with a 20% chance \
                 drawn from a generator with a fixed seed (the same seed, the same losses), and \
                 nobody resends them."
            }
            Chapter::Layers => {
                "A packet is headers wrapped around data, one header per layer \
                 (encapsulation). Here is one TCP segment carrying a few bytes of application \
                 data, first as a tree of headers with every field, then placed in the seven \
                 OSI layers beside the four of TCP/IP (RFC 1122). Look at which OSI layers \
                 have nothing of their own on the wire. (On loopback there is no network card: \
                 the Ethernet addresses are all zeros.)"
            }
            Chapter::WebSocket => {
                "A WebSocket starts as an HTTP/1.1 request asking to upgrade. The server proves \
                 it understood by answering 101 with Sec-WebSocket-Accept, computed from the \
                 client's Sec-WebSocket-Key: first that computation step by step, then a live \
                 server and client on loopback exchanging frames. Look at the MASK bit: every \
                 frame from the client is masked with a fresh key, no frame from the server is."
            }
            Chapter::Compare => {
                "The same events, server to client, over HTTP polling (a request every poll \
                 interval, on a new connection or a kept-alive one), long polling, Server-Sent \
                 Events and WebSocket push. Look at the latency, at how many requests came back \
                 empty, and at the bytes each event cost beyond its payload (counted at the \
                 sockets; where netlab may capture, the packets on the wire are counted too)."
            }
            Chapter::SocketIo => {
                "Socket.IO sends named events over Engine.IO, which starts as HTTP long-polling \
                 and moves to a WebSocket. First the upgrade as it happens: the probe `2probe`, \
                 its answer `3probe`, the noop `6` that releases the waiting GET, and `5`. Then \
                 six clients, in different rooms and one in another namespace, receive the \
                 course's emit cheatsheet line by line: read who got each line, and look for \
                 the line that reaches nobody."
            }
            Chapter::Delivery => {
                "What if a client misses an event? Numbered events go from a producer to a \
                 consumer over Socket.IO through a proxy that breaks things on cue: it resets \
                 the consumer's connection (cut), or loses an acknowledgement on its way back \
                 (lost-ack). Three ways of sending: a plain emit (at most once), an emit with \
                 an acknowledgement and retries (at least once), and the same to a consumer \
                 that skips a number it has processed (idempotent). Look at the `lost` and \
                 `dup` columns: every figure is counted from what the consumer processed."
            }
        }
    }

    /// Terms this chapter uses, each one `netlab explain TERM` knows.
    pub fn terms(self) -> &'static [&'static str] {
        match self {
            Chapter::Tcp => &["socket", "TCP", "4-tuple", "byte stream", "framing"],
            Chapter::Udp => &["UDP", "datagram", "MTU", "retransmission"],
            Chapter::Layers => &[
                "encapsulation",
                "OSI model",
                "TCP/IP model",
                "frame",
                "packet",
                "segment",
            ],
            Chapter::WebSocket => &["handshake", "WebSocket", "masking", "frame"],
            Chapter::Compare => &["polling", "long polling", "WebSocket", "HTTP/1.x"],
            Chapter::SocketIo => &["Socket.IO", "Engine.IO", "event", "room", "namespace"],
            Chapter::Delivery => &[
                "at-most-once",
                "at-least-once",
                "idempotent",
                "exactly-once",
                "message queue",
            ],
        }
    }

    /// The lab's own command, to go deeper after the tour.
    pub fn deeper(self) -> &'static str {
        match self {
            Chapter::Tcp => "netlab tcp demo",
            Chapter::Udp => "netlab udp demo",
            Chapter::Layers => "netlab capture --example tcp-handshake --osi",
            Chapter::WebSocket => "netlab ws demo",
            Chapter::Compare => "netlab compare --explain",
            Chapter::SocketIo => "netlab socketio demo",
            Chapter::Delivery => "netlab delivery --modes 1,5,6 --faults cut,lost-ack",
        }
    }
}

/// A validated `netlab tour`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub quick: bool,
    pub pace: bool,
    /// The chapters to run, in course order.
    pub chapters: Vec<Chapter>,
    pub list: bool,
}

impl From<&TourArgs> for Plan {
    fn from(a: &TourArgs) -> Plan {
        // clap keeps --chapter within 1..=7; duplicates run once, in course order.
        let chapters = Chapter::ALL
            .into_iter()
            .filter(|c| a.chapter.is_empty() || a.chapter.contains(&c.number()))
            .collect();
        Plan {
            quick: a.quick,
            pace: a.pace,
            chapters,
            list: a.list,
        }
    }
}

/// Why a chapter did not finish.
#[derive(Debug, Clone, Serialize)]
pub struct ChapterError {
    pub message: String,
    pub hint: Option<String>,
}

/// One chapter: the words around the demo, the demo's own report, and the takeaway.
#[derive(Debug, Serialize)]
pub struct ChapterReport {
    pub number: u8,
    pub id: Chapter,
    pub title: &'static str,
    pub look_for: &'static str,
    /// Terms for `netlab explain TERM`.
    pub explain: Vec<&'static str>,
    pub ok: bool,
    pub elapsed_ms: f64,
    /// The demo's report, exactly as its own command builds it.
    pub report: Option<chapters::ChapterData>,
    /// What the measured numbers say, in one line, from `report`.
    pub takeaway: Option<String>,
    pub error: Option<ChapterError>,
    /// Where the lab goes deeper.
    pub deeper: &'static str,
}

/// A lab guide to read next.
#[derive(Debug, Clone, Serialize)]
pub struct NextStep {
    pub path: &'static str,
    pub topic: &'static str,
}

/// The lab guides, in order (tests/tour.rs checks this list against `labs/`).
pub const LABS: [NextStep; 9] = [
    NextStep {
        path: "labs/01-tcp-streams.md",
        topic: "TCP streams: connections, byte streams, framing, socket options",
    },
    NextStep {
        path: "labs/02-udp-datagrams.md",
        topic: "UDP datagrams: boundaries, limits, loss, reordering, jitter",
    },
    NextStep {
        path: "labs/03-capture-and-layers.md",
        topic: "capture packets and find every layer",
    },
    NextStep {
        path: "labs/04-websocket-by-hand.md",
        topic: "a WebSocket by hand: handshake, frames, masking, close",
    },
    NextStep {
        path: "labs/05-follow-the-stream.md",
        topic: "follow a TCP stream: reassembly, HTTP and WebSocket on the wire",
    },
    NextStep {
        path: "labs/06-http-vs-websocket.md",
        topic: "HTTP versus WebSocket, measured",
    },
    NextStep {
        path: "labs/07-socketio-events.md",
        topic: "Socket.IO events by hand: emit, ack, rooms, the cheatsheet",
    },
    NextStep {
        path: "labs/08-delivery-and-queues.md",
        topic: "delivery guarantees under faults, and a message queue",
    },
    NextStep {
        path: "labs/09-several-nodes.md",
        topic: "several nodes: sticky sessions, adapters and io.local",
    },
];

/// The whole tour.
#[derive(Debug, Serialize)]
pub struct TourReport {
    pub quick: bool,
    pub chapters: Vec<ChapterReport>,
    /// Numbers of the chapters that failed.
    pub failed: Vec<u8>,
    pub elapsed_ms: f64,
    pub where_next: Vec<NextStep>,
    pub lab_command: &'static str,
    pub explain_command: &'static str,
}

/// `--list`: the chapters, without running them.
#[derive(Debug, Serialize)]
pub struct ChapterList {
    pub chapters: Vec<ChapterListEntry>,
}

#[derive(Debug, Serialize)]
pub struct ChapterListEntry {
    pub number: u8,
    pub id: Chapter,
    pub title: &'static str,
    pub deeper: &'static str,
}

/// A note from the tour itself (for example that `--pace` will not wait).
#[derive(Debug, Serialize)]
pub struct TourNote {
    pub note: String,
}

impl Render for TourNote {
    fn render_human(&self, style: &Style) -> String {
        style.paint(Paint::Dim, format!("tour: {}", self.note))
    }
}

/// The first lines of the tour.
#[derive(Debug, Serialize)]
pub struct TourIntro {
    pub chapters: usize,
    pub quick: bool,
}

impl Render for TourIntro {
    fn render_human(&self, style: &Style) -> String {
        let text = format!(
            "{}, each a real run on this machine's loopback interface (127.0.0.1, ports \
             chosen by the kernel). The numbers below are measured as you watch (chapter 3 \
             says so when its packet comes from a file instead); they differ from run to run \
             and from your neighbour's, the lessons do not.{}",
            if self.chapters == 1 {
                "One chapter".to_owned()
            } else {
                format!("{} chapters", self.chapters)
            },
            if self.quick {
                " Quick mode: smaller workloads."
            } else {
                ""
            }
        );
        format!(
            "{}\n{}",
            style.paint(Paint::Bold, "The netlab tour"),
            wrap(&text, prose_width(style))
        )
    }
}

/// Run `netlab tour`.
pub fn run(args: TourArgs, out: &mut Output) -> anyhow::Result<()> {
    let plan = Plan::from(&args);
    if plan.list {
        out.report(&list())?;
        return Ok(());
    }
    let stdin = std::io::stdin();
    let mut pacer = Pacer::new(
        plan.pace && out.format() == Format::Human,
        stdin.is_terminal(),
    );
    if plan.pace && out.format() != Format::Human {
        out.event(&TourNote {
            note: "--pace waits only with human output; going straight on".into(),
        })?;
    } else if plan.pace && !pacer.enabled {
        out.event(&TourNote {
            note: "--pace: stdin is not a terminal, so the tour does not wait for Enter".into(),
        })?;
    }
    out.event(&TourIntro {
        chapters: plan.chapters.len(),
        quick: plan.quick,
    })?;
    let mut input = stdin.lock();
    let report = tour(&plan, out, &mut pacer, &mut input, |c, quick| {
        chapters::run(c, quick)
    })?;
    finish(out, &report)
}

/// Print the end of the tour; an error when any chapter failed.
fn finish(out: &mut Output, report: &TourReport) -> anyhow::Result<()> {
    out.report(report)?;
    if report.failed.is_empty() {
        return Ok(());
    }
    let which: Vec<String> = report.failed.iter().map(u8::to_string).collect();
    Err(Hinted::failure(format!(
        "the tour: {} of {} chapters failed (chapter {})",
        report.failed.len(),
        report.chapters.len(),
        which.join(", ")
    ))
    .with_hint(format!(
        "each failed chapter says why above; run one again alone with `netlab tour --chapter {}`",
        report.failed[0]
    ))
    .into())
}

/// Run the plan's chapters with `runner`, printing each chapter as it ends, pausing
/// between them when the pacer says so. A failing chapter is recorded, not fatal.
pub fn tour(
    plan: &Plan,
    out: &mut Output,
    pacer: &mut Pacer,
    input: &mut dyn BufRead,
    mut runner: impl FnMut(Chapter, bool) -> anyhow::Result<(chapters::ChapterData, String)>,
) -> anyhow::Result<TourReport> {
    let start = Instant::now();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for (i, &c) in plan.chapters.iter().enumerate() {
        if i > 0 {
            pacer.pause(out, c, input)?;
        }
        let t0 = Instant::now();
        let result = runner(c, plan.quick);
        let elapsed_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let (report, takeaway, error) = match result {
            Ok((r, t)) => (Some(r), Some(t), None),
            Err(e) => {
                failed.push(c.number());
                let (message, hint) = match describe_fatal(&e) {
                    Some(f) => (f.message, f.hint),
                    None => (e.to_string(), None),
                };
                (None, None, Some(ChapterError { message, hint }))
            }
        };
        let chapter = ChapterReport {
            number: c.number(),
            id: c,
            title: c.title(),
            look_for: c.look_for(),
            explain: c.terms().to_vec(),
            ok: error.is_none(),
            elapsed_ms,
            report,
            takeaway,
            error,
            deeper: c.deeper(),
        };
        out.event(&chapter)?;
        done.push(chapter);
    }
    Ok(TourReport {
        quick: plan.quick,
        chapters: done,
        failed,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        where_next: LABS.to_vec(),
        lab_command: "netlab lab run N",
        explain_command: "netlab explain --list",
    })
}

/// `--pace`: wait for Enter between chapters, only where someone can press it.
#[derive(Debug)]
pub struct Pacer {
    pub enabled: bool,
}

impl Pacer {
    /// Pause only when asked to and stdin is a terminal: a pipe or /dev/null must never
    /// leave the tour waiting.
    pub fn new(asked: bool, stdin_is_terminal: bool) -> Pacer {
        Pacer {
            enabled: asked && stdin_is_terminal,
        }
    }

    /// Wait for a line on `input` before `next`. At end of input (Ctrl-D) or on a read
    /// error, stop pausing for the rest of the tour.
    pub fn pause(
        &mut self,
        out: &mut Output,
        next: Chapter,
        input: &mut dyn BufRead,
    ) -> std::io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        out.prompt(&format!(
            "── Enter: chapter {} of {}, {} (Ctrl-D: no more pauses) ",
            next.number(),
            Chapter::ALL.len(),
            next.title()
        ))?;
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => {
                self.enabled = false;
                out.prompt("\n")?;
            }
            Ok(_) => {}
        }
        Ok(())
    }
}

/// The chapter list for `--list`.
pub fn list() -> ChapterList {
    ChapterList {
        chapters: Chapter::ALL
            .into_iter()
            .map(|c| ChapterListEntry {
                number: c.number(),
                id: c,
                title: c.title(),
                deeper: c.deeper(),
            })
            .collect(),
    }
}

/// `text` wrapped to `width` columns, unpainted: the one wrapper of `output::wrap`.
pub fn wrap(text: &str, width: usize) -> String {
    crate::output::wrap::wrap(text, width, "")
        .iter()
        .map(|l| l.plain().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `netlab explain "TERM"` for one term, quoted when it has a space or a slash.
pub fn explain_command(term: &str) -> String {
    if term.contains([' ', '/']) {
        format!("netlab explain \"{term}\"")
    } else {
        format!("netlab explain {term}")
    }
}

impl Render for ChapterReport {
    fn render_human(&self, style: &Style) -> String {
        let width = prose_width(style);
        let rule = "━".repeat(4);
        let mut s = format!(
            "\n{}\n\n",
            style.paint(
                Paint::Bold,
                format!(
                    "{rule} Chapter {} of {}: {} {rule}",
                    self.number,
                    Chapter::ALL.len(),
                    self.title
                )
            )
        );
        s.push_str(&wrap(self.look_for, width));
        s.push('\n');
        let terms: Vec<String> = self.explain.iter().map(|t| explain_command(t)).collect();
        s.push_str(&style.paint(
            Paint::Dim,
            wrap(&format!("Words used here: {}", terms.join(", ")), width),
        ));
        s.push_str("\n\n");
        match (&self.report, &self.error) {
            (Some(r), _) => {
                s.push_str(&r.render_human(style));
                if !s.ends_with('\n') {
                    s.push('\n');
                }
            }
            (None, Some(e)) => {
                s.push_str(&format!(
                    "{} {}\n",
                    style.paint(Paint::Bad, format!("chapter {} failed:", self.number)),
                    e.message
                ));
                if let Some(h) = &e.hint {
                    s.push_str(&format!("{} {h}\n", style.paint(Paint::Warn, "hint:")));
                }
            }
            (None, None) => {}
        }
        if let Some(t) = &self.takeaway {
            s.push('\n');
            s.push_str(&style.paint(Paint::Good, wrap(&format!("⇒ {t}"), width)));
            s.push('\n');
        }
        s.push_str(&style.paint(Paint::Dim, format!("Deeper: `{}`", self.deeper)));
        s.push('\n');
        s
    }
}

impl Render for TourReport {
    /// Human output prints each chapter as it ends (as an event); this is the end.
    fn render_human(&self, style: &Style) -> String {
        let mut s = format!("\n{}\n", style.paint(Paint::Bold, "━━━━ Where next ━━━━"));
        let ok = self.chapters.len() - self.failed.len();
        let summary = format!(
            "{ok} of {} chapters ran in {:.1} s{}.",
            self.chapters.len(),
            self.elapsed_ms / 1000.0,
            if self.failed.is_empty() {
                String::new()
            } else {
                let f: Vec<String> = self.failed.iter().map(u8::to_string).collect();
                format!(" (chapter {} failed: see above)", f.join(", "))
            }
        );
        s.push_str(&style.paint(
            if self.failed.is_empty() {
                Paint::Good
            } else {
                Paint::Bad
            },
            summary,
        ));
        s.push_str(
            "\n\nEach lab takes one idea further, with questions to answer on your own machine:\n",
        );
        for (i, l) in self.where_next.iter().enumerate() {
            s.push_str(&format!("  {}. {:<31} {}\n", i + 1, l.path, l.topic));
        }
        s.push_str(&format!(
            "\nRun a lab's steps with `{}`. Every term of the course: `{}`.\n",
            self.lab_command, self.explain_command
        ));
        s
    }
}

impl Render for ChapterList {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["chapter", "what it shows", "go deeper"]);
        for c in &self.chapters {
            t.add_row(vec![
                c.number.to_string(),
                c.title.to_owned(),
                c.deeper.to_owned(),
            ]);
        }
        format!(
            "{}\n{t}\nRun one with `netlab tour --chapter N`, all with `netlab tour`.\n",
            style.paint(Paint::Bold, "The tour's chapters")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{Lookup, Vocabulary};
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn output() -> (Output, Sink, Sink) {
        let (o, e) = (Sink::default(), Sink::default());
        let out = Output::new(
            Format::Human,
            Style::plain(),
            Box::new(o.clone()),
            Box::new(e.clone()),
        );
        (out, o, e)
    }

    #[test]
    fn every_term_the_tour_names_is_in_the_vocabulary() {
        let v = Vocabulary::embedded().unwrap();
        for c in Chapter::ALL {
            for t in c.terms() {
                assert!(
                    matches!(v.lookup(t), Lookup::Found(_)),
                    "chapter {}: `netlab explain {t}` finds nothing",
                    c.number()
                );
            }
        }
    }

    fn empty_comparison() -> crate::cmd::compare::CompareReport {
        crate::cmd::compare::CompareReport {
            workload: chapters::workload(true),
            columns: Vec::new(),
            tcpip_overhead: String::new(),
            explain: false,
        }
    }

    #[test]
    fn a_failing_chapter_is_reported_and_the_others_still_run() {
        let plan = Plan {
            quick: true,
            pace: false,
            chapters: Chapter::ALL.to_vec(),
            list: false,
        };
        let (mut out, o, _) = output();
        let mut pacer = Pacer::new(false, false);
        let mut ran = Vec::new();
        let report = tour(&plan, &mut out, &mut pacer, &mut &b""[..], |c, _| {
            ran.push(c);
            if c == Chapter::Udp {
                Err(Hinted::failure("could not bind 127.0.0.1:0")
                    .with_hint("free a port")
                    .into())
            } else {
                Ok((
                    chapters::ChapterData::Compare(empty_comparison()),
                    format!("chapter {} measured", c.number()),
                ))
            }
        })
        .unwrap();
        assert_eq!(ran, Chapter::ALL.to_vec());
        assert_eq!(report.failed, vec![2]);
        let text = o.text();
        assert!(
            text.contains("chapter 2 failed: could not bind 127.0.0.1:0"),
            "{text}"
        );
        assert!(text.contains("hint: free a port"), "{text}");
        assert!(text.contains("chapter 5 measured"), "{text}");
        let e = finish(&mut out, &report).unwrap_err();
        let f = describe_fatal(&e).unwrap();
        assert_eq!(f.exit_code, 1);
        assert!(
            f.message.contains("1 of 7 chapters failed (chapter 2)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn pace_stops_waiting_at_end_of_input() {
        let (mut out, _, e) = output();
        let mut pacer = Pacer::new(true, true);
        // One Enter, then end of input.
        let mut input = &b"\n"[..];
        pacer.pause(&mut out, Chapter::Udp, &mut input).unwrap();
        assert!(pacer.enabled);
        pacer.pause(&mut out, Chapter::Layers, &mut input).unwrap();
        assert!(!pacer.enabled, "at EOF the tour stops pausing");
        let prompts = e.text();
        assert!(prompts.contains("chapter 2 of 7"), "{prompts}");
        assert!(prompts.contains("chapter 3 of 7"), "{prompts}");
        // Once off, no more prompts and no reads.
        pacer
            .pause(&mut out, Chapter::WebSocket, &mut input)
            .unwrap();
        assert!(!e.text().contains("chapter 4 of 7"));
        // Not a terminal: never waits.
        assert!(!Pacer::new(true, false).enabled);
    }

    #[test]
    fn chapters_are_chosen_in_course_order() {
        let args = TourArgs {
            quick: false,
            pace: false,
            chapter: vec![4, 1, 4],
            list: false,
        };
        assert_eq!(
            Plan::from(&args).chapters,
            vec![Chapter::Tcp, Chapter::WebSocket]
        );
    }

    #[test]
    fn prose_wraps_at_words() {
        assert_eq!(wrap("aa bb cc", 5), "aa bb\ncc");
        assert_eq!(
            explain_command("byte stream"),
            "netlab explain \"byte stream\""
        );
        assert_eq!(
            explain_command("TCP/IP model"),
            "netlab explain \"TCP/IP model\""
        );
        assert_eq!(explain_command("UDP"), "netlab explain UDP");
    }
}
