//! `netlab ws ...`: arguments only (the lab is in `cmd/ws/`).

use clap::{Args, Subcommand, ValueEnum};

/// permessage-deflate (RFC 7692) on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deflate {
    On,
    Off,
}

impl Deflate {
    pub fn is_on(self) -> bool {
        self == Deflate::On
    }
}

/// WebSocket (RFC 6455) built by hand: the Upgrade handshake, frames, masking,
/// fragmentation, ping/pong and the close handshake, on your own machine.
#[derive(Debug, Args)]
pub struct WsArgs {
    #[command(subcommand)]
    pub command: WsCommand,
}

#[derive(Debug, Subcommand)]
pub enum WsCommand {
    Handshake(HandshakeArgs),
    Server(ServerArgs),
    Client(ClientArgs),
    Demo(DemoArgs),
    Autobahn(AutobahnArgs),
}

/// Compute Sec-WebSocket-Accept from a Sec-WebSocket-Key, step by step.
///
/// You will see the key, the key with the RFC's fixed GUID appended, the SHA-1 digest of
/// that string in hex, and its base64 form: the value a server must send back in
/// `Sec-WebSocket-Accept`. Also: what this exchange proves, and what it does not.
#[derive(Debug, Args)]
pub struct HandshakeArgs {
    /// The Sec-WebSocket-Key (base64 of 16 random bytes). The default is RFC 6455's example.
    #[arg(long, default_value = "dGhlIHNhbXBsZSBub25jZQ==")]
    pub key: String,
}

/// Run a WebSocket server: echo (the default) or broadcast.
///
/// It prints `listening on ws://...` and then one line per connection, message and close.
/// With `--trace` you see every handshake header explained and every frame in both
/// directions: FIN, opcode, MASK and key, the length and how it was encoded, the payload
/// before and after unmasking. Ctrl-C (or SIGTERM) closes every connection with 1001
/// (going away) and exits.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on. 127.0.0.1 keeps the server on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 lets the kernel choose (the URL printed says which).
    #[arg(long, default_value_t = 9001)]
    pub port: u16,
    /// Send every message back to its sender (the default).
    #[arg(long, conflicts_with = "broadcast")]
    pub echo: bool,
    /// Send every message to every other connected client (a tiny chat room).
    #[arg(long)]
    pub broadcast: bool,
    /// Show the handshake and every frame in detail.
    #[arg(long)]
    pub trace: bool,
    /// Report connections only, not every message (for load tests).
    #[arg(long)]
    pub quiet: bool,
    /// Largest message accepted, in bytes; bigger ones are refused with close code 1009.
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub max_message: usize,
    /// Give up on a client that has not finished its handshake after this long.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub handshake_timeout_ms: u64,
    /// Drop a connection that stays silent this long.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub idle_timeout_s: u64,
    /// Accept browsers only from this Origin (repeatable). Without it, any Origin is accepted.
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Vec<String>,
    /// A subprotocol this server speaks (repeatable, most preferred first).
    #[arg(long, value_name = "NAME")]
    pub protocol: Vec<String>,
    /// Accept permessage-deflate compression (RFC 7692) when a client offers it, as
    /// browsers do. Messages of 1 KiB or more then go compressed (RSV1 set); smaller ones
    /// are not worth it. `--trace` shows each message's compressed and inflated size.
    #[arg(long, value_enum, default_value_t = Deflate::On)]
    pub deflate: Deflate,
}

/// Connect to a WebSocket server and talk to it.
///
/// Each line you type is sent as a text message; what arrives is printed. Commands:
/// `/ping [TEXT]` sends a ping, `/binary HEX` a binary message (e.g. `/binary 00ff10`),
/// `/close [CODE [REASON]]` starts the close handshake (default 1000). End of input
/// (Ctrl-D) closes with 1000. `--send` sends messages without reading the keyboard.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server, e.g. ws://127.0.0.1:9001/
    pub url: String,
    /// Show the handshake and every frame in detail.
    #[arg(long)]
    pub trace: bool,
    /// Send this text message, then close (repeatable; stdin is not read).
    #[arg(long, value_name = "TEXT")]
    pub send: Vec<String>,
    /// Offer this subprotocol (repeatable).
    #[arg(long, value_name = "NAME")]
    pub protocol: Vec<String>,
    /// Give up on connecting, or on a reply to --send, after this long.
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    pub timeout_ms: u64,
    /// Offer permessage-deflate compression (RFC 7692), as a browser does. Off by
    /// default, so the frames you see are the plain protocol; with it on, messages of
    /// 1 KiB or more go compressed if the server accepts.
    #[arg(long, value_enum, default_value_t = Deflate::Off)]
    pub deflate: Deflate,
}

/// The instructor's demo: a server and a client in one process, fully traced.
///
/// On 127.0.0.1 with a port the kernel picks: the opening handshake, a text message, a
/// binary one, a text message split into three frames, a ping and its pong, and the close
/// handshake. You will see a sequence diagram and then every frame byte by byte.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// Run the Autobahn|Testsuite client protocol against its fuzzing server.
///
/// Asks `/getCaseCount`, runs each case by echoing every message (`/runCase?case=N`),
/// then asks the suite to write its reports (`/updateReports`). Used by CI's conformance
/// run (`.ci/autobahn.sh`); it prints one line per case.
#[derive(Debug, Args)]
pub struct AutobahnArgs {
    /// The fuzzing server (wstest -m fuzzingserver).
    #[arg(long, default_value = "ws://127.0.0.1:9011")]
    pub url: String,
    /// The name the reports use for this client.
    #[arg(long, default_value = "netlab")]
    pub agent: String,
}
