//! Arguments of `netlab udp ...`: clap only. Validation happens in `cmd::udp`.

use crate::net::Endpoint;
use clap::{Args, Subcommand};

/// UDP datagrams: send and receive them, see that their boundaries are kept, and watch
/// loss, duplication, reordering and jitter (made visible by a relay that impairs
/// traffic on purpose, no root needed).
#[derive(Debug, Args)]
pub struct UdpArgs {
    #[command(subcommand)]
    pub command: UdpCommand,
}

#[derive(Debug, Subcommand)]
pub enum UdpCommand {
    Listen(ListenArgs),
    Send(SendArgs),
    Demo(DemoArgs),
    Relay(RelayArgs),
    Bench(BenchArgs),
    #[command(hide = true)]
    TcpUnderLoss(TcpUnderLossArgs),
}

/// Receive datagrams and show each one: who sent it and how long it is.
///
/// One socket serves every sender at once: UDP has no connections, so there is no
/// "first client" to be stuck with (unlike `nc -u -l`, which locks onto the first peer).
/// Datagrams from `netlab udp send` carry netlab's probe header (sequence number and send
/// time); for those you also get, per sender, a table of received, lost, duplicated,
/// reordered and late datagrams and the RFC 3550 interarrival jitter. Anything else is
/// shown as raw bytes. Stops on Ctrl-C, after --count datagrams or after --seconds.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on. 127.0.0.1 keeps it on this machine; 0.0.0.0 or `::` opens it
    /// to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Port to listen on; 0 lets the kernel choose (the chosen port is printed first).
    #[arg(long, short, default_value_t = 9000)]
    pub port: u16,
    /// Send every datagram back to whoever sent it (END markers excepted).
    #[arg(long)]
    pub echo: bool,
    /// Stop after this many datagrams. The END marker that `netlab udp send` adds after its
    /// last datagram is not counted (it carries no message), so `--count N` waits for N
    /// real datagrams.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Playout budget in ms: a datagram whose transit exceeds the fastest one's by more
    /// than this is counted "late" (a jitter buffer this size would have discarded it).
    #[arg(long, default_value_t = 50.0, value_name = "MS")]
    pub late_ms: f64,
    /// Do not print one line per datagram; only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Send datagrams to HOST:PORT, then wait a bounded time for replies.
///
/// Each datagram starts with netlab's 20-byte probe header (sequence number, send time),
/// then MESSAGE, padded to --size if given. The receiver uses the header to count losses;
/// use --raw to send MESSAGE alone, as netcat would. After the last datagram, send waits
/// --wait-ms for replies and shows each with its source, length and round-trip time. If
/// none come it says so: UDP has no connection and no acknowledgement, so silence is a
/// legal answer.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Where to send, e.g. 127.0.0.1:9000, `[::1]:9000` or localhost:9000.
    pub to: Endpoint,
    /// The message (UTF-8).
    #[arg(default_value = "hello")]
    pub message: String,
    /// How many datagrams to send.
    #[arg(long, short = 'n', default_value_t = 1)]
    pub count: u32,
    /// Bytes of UDP payload per datagram (header + message + padding). At most 65,507
    /// over IPv4 and 65,527 over IPv6.
    #[arg(long, value_name = "B")]
    pub size: Option<usize>,
    /// Datagrams per second (default: as fast as the socket takes them).
    #[arg(long, value_name = "PER_S")]
    pub rate: Option<f64>,
    /// How long to wait for replies after the last datagram, in ms.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub wait_ms: u64,
    /// Send MESSAGE without netlab's header (what netcat sends).
    #[arg(long)]
    pub raw: bool,
    /// Do not print one line per datagram; only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Run both ends in one process and show what makes UDP UDP.
///
/// 1. Boundaries: every send_to arrives as exactly one recv_from (TCP, a byte stream,
///    would not promise that). 2. Truncation: a datagram larger than the receive buffer
///    is cut, and the kernel says so with MSG_TRUNC. 3. The size limit: 65,507 bytes go
///    over IPv4, 65,508 fail with "message too long". 4. A send to a port where nothing
///    listens: on a connected socket the ICMP port-unreachable comes back as "connection
///    refused"; on an unconnected one, nothing. 5. Loss: probes through netlab's relay
///    with a seeded 20% loss, counted by the receiver; beside them, the same number of
///    messages over TCP while nftables drops 20% of its segments, in a network namespace
///    of netlab's own: every message arrives, with the retransmissions the kernel counted
///    and the time they cost. That TCP half needs root (or user namespaces) and `nft`;
///    without them the demo says what it could not show and why.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed for the relay's loss in part 5 (same seed, same losses).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Datagrams sent through the lossy relay in part 5.
    #[arg(long, default_value_t = 50)]
    pub probes: u32,
}

/// Sit between a sender and a receiver and impair the traffic, deterministically.
///
/// Datagrams arriving on --listen go to --to; replies come back untouched, to the client
/// that sent most recently (one upstream socket, like a one-entry NAT). Each datagram
/// from the client may be dropped (--loss), sent twice (--dup), held back until the next
/// one has gone (--reorder) and delayed (--delay, ±--jitter). The decisions come from a
/// seeded generator: the same --seed gives the same drops, so everyone running the same
/// command sees the same losses. netlab END markers pass unimpaired so the receiver can
/// count losses at the tail. Prints one line per datagram and a summary.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Where clients send, e.g. 127.0.0.1:9001 (port 0: the kernel picks).
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// The receiver to pass datagrams to, e.g. 127.0.0.1:9000.
    #[arg(long)]
    pub to: Endpoint,
    /// Percentage of datagrams to drop (0-100).
    #[arg(long, default_value_t = 0.0, value_name = "PERCENT")]
    pub loss: f64,
    /// Percentage of datagrams to send twice (0-100).
    #[arg(long, default_value_t = 0.0, value_name = "PERCENT")]
    pub dup: f64,
    /// Percentage of datagrams to hold back behind the next one (0-100).
    #[arg(long, default_value_t = 0.0, value_name = "PERCENT")]
    pub reorder: f64,
    /// Delay every datagram by this many ms.
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub delay: f64,
    /// Vary each delay uniformly by up to ± this many ms.
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub jitter: f64,
    /// Seed of the impairment generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many datagrams from the client.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Do not print one line per datagram; only the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Blast datagrams over loopback and count what arrives.
///
/// A sender thread and a receiver thread, each on its own socket. Shows progress while
/// it runs, then datagrams per second sent and received and the loss the receiver
/// counted by sequence number (exact: every number is accounted for). Loss here is real:
/// when the receiver falls behind, its socket buffer fills and the kernel drops datagrams
/// (the kernel's own RcvbufErrors counter is shown beside netlab's count).
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// UDP payload bytes per datagram (at least 20, netlab's header).
    #[arg(long, default_value_t = 1024, value_name = "B")]
    pub size: usize,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub seconds: f64,
    /// Datagrams per second (default: as fast as possible).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Use IPv6 loopback (::1) instead of 127.0.0.1.
    #[arg(long)]
    pub ipv6: bool,
}

/// Internal: the TCP half of `netlab udp demo`'s loss experiment. Not for direct use:
/// the demo runs it inside a fresh network namespace (`unshare --net`, with `lo` up), where
/// it installs an nftables rule dropping a share of the TCP segments to its own receiver,
/// sends the same number of messages with and without that rule, and prints what TCP
/// delivered and what the namespace's kernel counted (RetransSegs). It refuses to run in a
/// namespace that has any interface other than `lo`.
#[derive(Debug, Args)]
pub struct TcpUnderLossArgs {
    /// Messages to send.
    #[arg(long, default_value_t = 50)]
    pub messages: u32,
    /// Bytes per message.
    #[arg(long, default_value_t = 25, value_name = "B")]
    pub size: usize,
    /// Percentage of segments toward the receiver to drop (whole number, 0-100).
    #[arg(long, default_value_t = 20, value_name = "PERCENT")]
    pub loss: u32,
    /// Pause between writes, in microseconds.
    #[arg(long, default_value_t = 500, value_name = "US")]
    pub gap_us: u64,
    /// Give up on one transfer after this many milliseconds.
    #[arg(long, default_value_t = 25_000, value_name = "MS")]
    pub limit_ms: u64,
}
