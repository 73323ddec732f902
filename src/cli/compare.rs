//! Arguments of `netlab compare`: clap only. Validation happens in `cmd::compare`.

use clap::{Args, ValueEnum};

/// HTTP polling, long polling, Server-Sent Events and WebSocket push, measured side by
/// side on the same workload.
///
/// One process starts a server and its clients on 127.0.0.1 for each way of getting
/// events from a server to a client, runs the same events through each in turn, and
/// shows one column per transport: delivery latency (from the moment the server has an
/// event to the moment the client has parsed it: p50, p95, p99, max), the bytes counted
/// at the sockets split into event payload, HTTP heads and framing, HTTP requests,
/// empty polls, TCP connections opened, events lost or duplicated, and CPU time.
/// TCP/IP headers are not in these byte counts (they are what a capture adds).
///
/// With --explain, each transport's first exchanges are drawn as a client/server
/// sequence diagram with byte counts, before the numbers.
#[derive(Debug, Args)]
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
    /// Also capture each run's packets on loopback to count TCP/IP headers, packets and
    /// handshakes (needs root or CAP_NET_RAW; without it the table says "not counted").
    #[arg(long)]
    pub capture: bool,
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
