//! The command line, as clap derive structs and nothing else: no I/O, no netlab logic.
//!
//! Each lab's arguments live in their own file (`cli/tcp.rs`, `cli/udp.rs`, ...). The
//! conversion from these "low" arguments to a validated `Plan` lives beside the lab in
//! `cmd/`, so tests can build plans without clap.

pub mod capture;
pub mod compare;
pub mod delivery;
pub mod explain;
pub mod lab;
pub mod proxy;
pub mod queue;
pub mod socketio;
pub mod tcp;
pub mod tour;
pub mod ws;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod udp;

/// netlab: an educational networking lab. See what sockets, TCP streams, UDP datagrams,
/// packets and WebSockets really are, on your own machine, with your own traffic.
#[derive(Debug, Parser)]
#[command(name = "netlab", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print one JSON document instead of tables (for scripts and graders).
    #[arg(long, global = true, conflicts_with = "jsonl")]
    pub json: bool,
    /// Print one JSON object per line, one per event as it happens (for streaming commands).
    #[arg(long, global = true)]
    pub jsonl: bool,
    /// When to use colour. `auto` means: when stdout is a terminal and NO_COLOR is unset.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, global = true, value_name = "WHEN")]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the OSI, TCP/IP (RFC 1122) and five-layer models side by side, and where each
    /// protocol netlab knows sits in them.
    Osi(OsiArgs),
    /// The TCP streams lab: a narrated netcat (listen, connect), the byte-stream demo,
    /// socket options, errors as lessons, and throughput.
    Tcp(tcp::TcpArgs),
    /// UDP datagrams: send, listen, see boundaries kept, and loss, duplication,
    /// reordering and jitter made visible by an impairing relay.
    Udp(udp::UdpArgs),
    /// WebSocket by hand (RFC 6455): handshake, frames, masking; server, client, demo.
    Ws(ws::WsArgs),
    /// Socket.IO on Engine.IO: a server real Socket.IO clients connect to (echo or chat),
    /// showing sessions, namespaces, events, acknowledgements and packets.
    Socketio(socketio::SocketioArgs),
    // `about` rather than a doc comment: a doc comment here would replace CaptureArgs'
    // long help (`capture --help`).
    #[command(
        about = "Capture packets (live or from a pcap file) and decode them layer by layer, \
                 mapped to the OSI and TCP/IP models"
    )]
    Capture(capture::CaptureArgs),
    /// HTTP versus WebSocket, measured side by side: short polling, keep-alive polling,
    /// long polling, Server-Sent Events and WebSocket push on the same workload.
    Compare(compare::CompareArgs),
    /// A TCP relay that breaks connections on purpose: cut (FIN or RST) after N bytes or
    /// at a time, black-hole, delay, throttle, on a seeded deterministic script.
    Proxy(proxy::ProxyArgs),
    /// Delivery guarantees measured: numbered events over Socket.IO through a faulty
    /// proxy, per mode (emit, volatile, send buffer, recovery, acks, dedup) and fault.
    Delivery(delivery::DeliveryArgs),
    /// A message broker with a durable log, over Socket.IO: publish, consume in groups,
    /// acknowledge, see redelivery and dead letters, kill it and lose nothing.
    Queue(queue::QueueArgs),
    /// Explain a term of the course (socket, TCP, WebSocket, Socket.IO, MTU, ...): its
    /// definition and source, the misconception it corrects, a netlab command that shows it
    /// and the code that embodies it. `--list` lists every term.
    ///
    /// The text is docs/vocabulary.md, built into netlab. For each term you will see its
    /// other names; for a protocol, its layer in the OSI, TCP/IP (RFC 1122) and five-layer
    /// models, its unit of data and the standard that defines it; then the definition, the
    /// source (RFC section or other specification, and where textbooks differ), how it
    /// relates to its neighbours, the misconception it corrects, a netlab command that
    /// shows it on your own machine, and the file and item in netlab's source that embody
    /// it.
    ///
    /// Case, hyphens and a plural `s` do not matter, and other names work
    /// ("three-way handshake", "bidirectional"). A misspelt term gets "did you mean ..."
    /// suggestions (exit code 2).
    ///
    /// Examples: `netlab explain socket`, `netlab explain long polling`,
    /// `netlab explain --list`, `netlab explain tcp --json`.
    Explain(explain::ExplainArgs),
    /// A narrated walk through the whole course on loopback, in a few minutes, with no root
    /// and no setup: TCP's byte stream, UDP datagrams and loss, a packet's layers, a
    /// WebSocket's handshake and frames, HTTP polling versus WebSocket push.
    ///
    /// Five chapters, each a real demo run in this process on 127.0.0.1 (ports chosen by the
    /// kernel), with what to look for before it and what the measured numbers mean after it:
    ///
    ///   1. TCP: a connection and its byte stream (writes are not reads)
    ///   2. UDP: datagrams keep their boundaries; seeded loss through a relay
    ///   3. A packet's layers in the OSI and TCP/IP models: captured live on loopback when
    ///      netlab may capture (root or CAP_NET_RAW), otherwise read from a capture shipped
    ///      with netlab; the chapter says which
    ///   4. WebSocket: the handshake (Sec-WebSocket-Accept) and frames (masking)
    ///   5. HTTP polling versus WebSocket push, measured on the same events
    ///
    /// The default run takes well under a minute of computing; the rest is reading. If a
    /// chapter fails, the tour says which and why, goes on with the others, and exits with 1.
    ///
    /// Examples: `netlab tour`, `netlab tour --pace` (in class: Enter between chapters),
    /// `netlab tour --quick` (seconds, for CI), `netlab tour --chapter 3`,
    /// `netlab tour --list`, `netlab tour --quick --json`.
    #[command(verbatim_doc_comment)]
    Tour(tour::TourArgs),
    /// Labs that check themselves: `netlab lab list`, `netlab lab show N`, and
    /// `netlab lab run N`, a guided run whose questions are answered from what your own run
    /// measured.
    Lab(lab::LabArgs),
}

/// Arguments of `netlab osi`.
#[derive(Debug, Args)]
pub struct OsiArgs {}
