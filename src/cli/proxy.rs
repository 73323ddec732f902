//! `netlab proxy`: a TCP relay that breaks connections on purpose.

use crate::net::Endpoint;
use clap::Args;

/// A TCP relay between a client and a server that cuts, black-holes, delays or throttles
/// each connection on a deterministic script.
///
/// Point a client at --listen instead of the server; each connection it opens gets its
/// own connection to --to. One line per connection event: accepted, fault applied,
/// closed (with the bytes each way). A range (`--cut-after 2KB..8KB`) is drawn per
/// connection from --seed, so the same seed repeats a run exactly.
///
/// Examples: `netlab proxy --listen 9001 --to 127.0.0.1:9000 --cut-after 10KB --cut-with rst`,
/// `netlab proxy --listen 9001 --to 127.0.0.1:3000 --blackhole 3s --blackhole-at 1s --then drop`,
/// `netlab proxy --listen 9001 --to 127.0.0.1:9000 --delay 50ms --throttle 10KB/s`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Where clients connect: a port (on 127.0.0.1) or ADDRESS:PORT. 0 lets the kernel
    /// choose (the chosen port is printed first).
    #[arg(long, value_name = "PORT")]
    pub listen: String,
    /// The server each connection is relayed to.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Endpoint,
    /// Cut each connection after this many bytes (both ways together: 10KB, 1500B) or
    /// this long after it was accepted (2s, 500ms). A range LOW..HIGH is drawn per
    /// connection.
    #[arg(long, value_name = "SIZE|TIME")]
    pub cut_after: Option<String>,
    /// How to cut: fin (both peers read an end of stream) or rst (SO_LINGER 0: their next
    /// read fails with "connection reset").
    #[arg(long, value_name = "HOW", default_value = "fin")]
    pub cut_with: String,
    /// Black-hole each connection for this long: nothing is written either way.
    #[arg(long, value_name = "TIME")]
    pub blackhole: Option<String>,
    /// When the black hole starts, after the connection was accepted.
    #[arg(
        long,
        value_name = "TIME",
        default_value = "0s",
        requires = "blackhole"
    )]
    pub blackhole_at: String,
    /// What the black hole does at its end with the bytes it held: release them in order,
    /// or drop them and cut the connection (RST).
    #[arg(
        long,
        value_name = "WHAT",
        default_value = "release",
        requires = "blackhole"
    )]
    pub then: String,
    /// Hold every chunk this long before writing it, each way (50ms).
    #[arg(long, value_name = "TIME")]
    pub delay: Option<String>,
    /// At most this many bytes per second, each way (10KB/s).
    #[arg(long, value_name = "RATE")]
    pub throttle: Option<String>,
    /// Seed for the values drawn from ranges.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many connections have ended.
    #[arg(long, value_name = "N")]
    pub connections: Option<u64>,
}
