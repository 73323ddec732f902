//! Arguments of `netlab tcp`: clap derive only. Validation lives in `cmd::tcp`.

use crate::net::Endpoint;
use clap::{Args, Subcommand};

/// The TCP streams lab: a netcat that explains itself, the byte-stream demo, socket
/// options, errors as lessons, and throughput.
#[derive(Debug, Args)]
pub struct TcpArgs {
    #[command(subcommand)]
    pub command: TcpCommand,
}

#[derive(Debug, Subcommand)]
pub enum TcpCommand {
    /// Wait for TCP clients, like `nc -l`, and narrate each connection's life.
    ///
    /// You will see: the address the socket listens on, each client's 4-tuple (its
    /// address and port, ours) and the socket options the kernel applied; then what the
    /// client sends (on stdout), when it half-closes (it sent FIN: its reads go on), how
    /// the connection ended (orderly FIN both ways, or RST) and the bytes each way.
    /// Several clients may be connected at once. What you type goes to every connected
    /// client; Ctrl-D half-closes, Ctrl-C stops with a summary. Narration goes to
    /// stderr, so stdout carries only the clients' bytes.
    ///
    /// With --jsonl the first line is a `listening` event with the bound address.
    Listen(ListenArgs),
    /// Connect to a TCP server, like `nc HOST PORT`, and narrate the connection's life.
    ///
    /// You will see: the 4-tuple, the socket options the kernel applied, the bytes each
    /// way. stdin goes to the server and the server's bytes to stdout. When stdin ends
    /// (Ctrl-D, or the end of a pipe) netlab half-closes: it sends FIN with
    /// shutdown(Write) and keeps reading until the server closes too. With --linger 0
    /// it aborts instead: close() sends RST, and the server sees "connection reset".
    ///
    /// Errors are lessons: "connection refused" means the other kernel answered our SYN
    /// with RST because nothing listens on that port.
    Connect(ConnectArgs),
    /// Show that TCP delivers a byte stream, not messages.
    ///
    /// Runs a client and a server in this process on 127.0.0.1 and records every write()
    /// the client makes and every read() the server makes: 10 small writes arrive in
    /// one or two reads (with Nagle on, and with TCP_NODELAY), a request written in two
    /// small pieces waits for a delayed ACK with Nagle on (about 40 ms per round on
    /// Linux) but not with TCP_NODELAY, one large write is split across many reads, and
    /// a read buffer smaller than a write takes several reads. Then newline and
    /// length-prefix framing recover exactly the messages sent. Shown as a table and as
    /// client/server sequence diagrams; every number is measured.
    Demo(DemoArgs),
    /// Measure TCP throughput: a sender and a sink on loopback (or a sender to --to).
    ///
    /// You will see a line per second while it runs, then the throughput in Gbit/s as
    /// the receiver measured it (first byte to EOF) and as the sender measured it. On
    /// loopback no NIC is involved, so this measures the kernel's TCP stack and memory
    /// copies. Compare with `iperf3` (see benches/tcp-vs-iperf3.sh).
    Bench(BenchArgs),
}

/// Socket options, set through socket2 and read back from the kernel.
#[derive(Debug, Clone, Args)]
pub struct SockOptArgs {
    /// Set TCP_NODELAY: turn Nagle's algorithm off, so small writes are sent at once
    /// instead of waiting for the ACK of earlier small data.
    #[arg(long)]
    pub nodelay: bool,
    /// Ask for this SO_SNDBUF size in bytes. netlab shows what the kernel set:
    /// Linux doubles the value, and clamps it to net.core.wmem_max.
    #[arg(long, value_name = "BYTES")]
    pub sndbuf: Option<u64>,
    /// Ask for this SO_RCVBUF size in bytes. netlab shows what the kernel set:
    /// Linux doubles the value, and clamps it to net.core.rmem_max.
    #[arg(long, value_name = "BYTES")]
    pub rcvbuf: Option<u64>,
    /// Turn on SO_KEEPALIVE; probes start after SECS idle seconds (default 60).
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "60")]
    pub keepalive: Option<u64>,
    /// Set SO_LINGER to SECS (at most 10). 0 means: close() aborts the connection with
    /// RST instead of FIN, and the peer sees "connection reset".
    #[arg(long, value_name = "SECS")]
    pub linger: Option<u64>,
    /// Set SO_REUSEADDR: allow binding a port that still has connections in TIME-WAIT.
    /// Listeners always set it (as servers do, so a restart right after Ctrl-C works);
    /// the flag adds it to a client's socket.
    #[arg(long)]
    pub reuseaddr: bool,
}

/// Arguments of `netlab tcp listen`.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port to listen on; 0 lets the kernel pick a free one (netlab prints which).
    #[arg(long, short, default_value_t = 0)]
    pub port: u16,
    /// Address to listen on. The default accepts only this machine; 0.0.0.0 or ::
    /// accept from the network too.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: std::net::IpAddr,
    /// Send every byte straight back to the client that sent it.
    #[arg(long, conflicts_with = "discard")]
    pub echo: bool,
    /// Count what clients send, and throw it away (a sink, for `netlab tcp bench --to`).
    #[arg(long)]
    pub discard: bool,
    /// Stop after this many clients have come and gone.
    #[arg(long, value_name = "N")]
    pub max_clients: Option<u32>,
    /// Close a connection after this many seconds without traffic either way.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub idle_timeout: f64,
    /// Write clients' bytes to stdout exactly as they arrive, for piping into a file or a
    /// program. Without it each line is tagged with its connection (`[conn 2] …`) and
    /// control characters are shown as escapes (`\x1b`), so no client can command your
    /// terminal.
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub opts: SockOptArgs,
}

/// Arguments of `netlab tcp connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Where to connect, e.g. 127.0.0.1:9000, `[::1]:9000` or localhost:9000.
    #[arg(value_name = "HOST:PORT")]
    pub to: Endpoint,
    /// Give up connecting after this many seconds (an unanswered SYN is retried for
    /// minutes otherwise).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Close after this many seconds without traffic either way.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub idle_timeout: f64,
    #[command(flatten)]
    pub opts: SockOptArgs,
}

/// Arguments of `netlab tcp demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many small writes the client makes in the coalescing cases.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub writes: usize,
    /// Size of the single large write, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub large: usize,
    /// The server's read buffer for the large write, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    pub read_buf: usize,
    /// Give up on any connect, read or write after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
}

/// Arguments of `netlab tcp bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How long to send, in seconds.
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub seconds: f64,
    /// Size of each write() and read() buffer, in bytes (iperf3's default is 128 KiB).
    #[arg(long, value_name = "BYTES", default_value_t = 128 * 1024)]
    pub size: usize,
    /// Send to this server instead of a sink in this process (for example
    /// `netlab tcp listen --discard`).
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Option<Endpoint>,
    /// Give up connecting, or waiting on a stalled socket, after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    #[command(flatten)]
    pub opts: SockOptArgs,
}
