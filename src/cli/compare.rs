//! Arguments of `netlab compare`: clap only. Validation happens in `cmd::compare`.

use clap::{Args, ValueEnum};

/// The long help, under the options.
const ABOUT: &str = "\
What it does: one process starts a server and its clients on 127.0.0.1 for each way of
getting events from a server to a client, runs the same events through each in turn,
and shows one column per transport: delivery latency (from the moment the server has an
event to the moment the client has parsed it: p50, p95, p99, max), the bytes counted at
the sockets split into event payload, HTTP heads and framing, HTTP requests, empty
polls, TCP connections opened, events lost or duplicated, and the CPU time of the server
and of the clients (each side runs on a thread of its own).

When netlab may capture (root or CAP_NET_RAW), it also captures each run on loopback
and counts packets, TCP/IP header bytes and handshakes; without that privilege the
table says TCP/IP overhead is not counted. --capture insists on the capture, and
--no-capture leaves it out.

If a transport cannot run (its port is taken, say), the others are still measured and
reported; the failed one is named with the reason, and netlab exits with 1.

Examples:
  netlab compare
  netlab compare --explain --events 3
  netlab compare --events 200 --burst --only sse,ws
  netlab compare --poll-interval 5 --clients 10 --csv
  netlab compare --direction both --events 20 --json
  sudo netlab compare --port 9000 --capture      (capture filter: tcp portrange 9000-9004)";

/// HTTP polling, long polling, Server-Sent Events and WebSocket push, measured side by
/// side on the same workload. (What `--help` shows below the options is `ABOUT`.)
#[derive(Debug, Args)]
#[command(after_long_help = ABOUT)]
pub struct CompareArgs {
    /// Events the server produces (every client receives every event).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub events: u64,
    /// Milliseconds between events.
    #[arg(
        long,
        default_value_t = 20,
        value_name = "MS",
        conflicts_with = "burst"
    )]
    pub interval: u64,
    /// Produce every event at once instead of one per --interval.
    #[arg(long)]
    pub burst: bool,
    /// Bytes of application payload per event (at least 8: the event id is written in
    /// its first 8 bytes).
    #[arg(long, default_value_t = 32, value_name = "BYTES")]
    pub payload: usize,
    /// Milliseconds a short-polling client waits between an answer and its next request.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub poll_interval: u64,
    /// Milliseconds a long-polling server holds a request that has nothing to answer yet.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub hold: u64,
    /// Clients per transport, each receiving every event.
    #[arg(long, default_value_t = 1, value_name = "C")]
    pub clients: usize,
    /// Which way messages go: `down` (server events to clients), `up` (each client sends
    /// --events messages: an HTTP POST each, or a WebSocket frame each) or `both` at once.
    #[arg(long, value_enum, default_value_t = DirectionArg::Down)]
    pub direction: DirectionArg,
    /// Only these transports (comma-separated); all five by default.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "T")]
    pub only: Vec<TransportArg>,
    /// Draw each transport's first exchanges as a sequence diagram before the table.
    #[arg(long)]
    pub explain: bool,
    /// Require the capture of each run's packets on loopback (TCP/IP headers, packets,
    /// handshakes): fail at once if netlab may not capture. Without this flag netlab
    /// captures when it may (root or CAP_NET_RAW) and says "not counted" when not.
    #[arg(long, conflicts_with = "no_capture")]
    pub capture: bool,
    /// Do not capture, even with the privilege to (TCP/IP overhead is then not counted).
    #[arg(long)]
    pub no_capture: bool,
    /// Serve on fixed ports of 127.0.0.1, one per transport in the table's order
    /// (short poll PORT, keep-alive PORT+1, long poll PORT+2, SSE PORT+3, WebSocket
    /// PORT+4), e.g. to filter a capture of your own; 0 lets the OS pick free ports.
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub port: u16,
    /// Also draw the latency distributions and the bytes per event as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
    /// Print the table as CSV (one row per transport) instead.
    #[arg(long, conflicts_with = "explain")]
    pub csv: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// A new TCP connection per poll (`Connection: close`).
    ShortPoll,
    /// Polls on one persistent connection.
    KeepAlive,
    /// The server holds each poll until an event exists.
    LongPoll,
    /// Server-Sent Events: one long text/event-stream response.
    Sse,
    /// One upgraded connection, a frame per event.
    Ws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    Down,
    Up,
    Both,
}
