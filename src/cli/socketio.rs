//! `netlab socketio ...`: arguments only (the lab is in `cmd/socketio/`).

use clap::{Args, Subcommand, ValueEnum};

/// Socket.IO (protocol 5) on top of Engine.IO: namespaces, events, acknowledgements,
/// binary attachments and rooms, with the packets shown as they travel.
#[derive(Debug, Args)]
pub struct SocketioArgs {
    #[command(subcommand)]
    pub command: SocketioCommand,
}

#[derive(Debug, Subcommand)]
pub enum SocketioCommand {
    Server(ServerArgs),
    Client(ClientArgs),
}

/// What the server does with the events it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    /// Every event goes back to its sender under the same name with the same arguments
    /// (binary included); an event that asks for an acknowledgement is acknowledged with
    /// its arguments instead.
    Echo,
    /// A chat: `nick NAME`, `join ROOM`, `leave ROOM`, `message TEXT` (to your rooms, or
    /// to everyone when you are in none), `private SOCKET-ID TEXT`, `typing` (volatile).
    Chat,
}

/// Run a Socket.IO server that real Socket.IO clients (socket.io-client 4, a browser)
/// connect to, over HTTP long-polling, WebSocket, or polling then the upgrade.
///
/// It prints `listening on http://HOST:PORT/socket.io/` and then one line per Engine.IO
/// session (opened, upgraded, closed), per socket joining or leaving a namespace (with
/// the reason, in the real server's words) and per event. With `--trace` you also see
/// every Socket.IO packet in both directions, as Engine.IO carries it (on the wire each
/// text packet follows Engine.IO's message type `4`): `0{"sid":..}` the CONNECT answer,
/// `2["chat","hi"]` an EVENT, `31["ok"]` an ACK to the event that asked with id 1,
/// `51-["file",{"_placeholder":true,"num":0}]` and then its binary attachment.
///
/// Only the main namespace `/` exists: a client that asks for another one is refused
/// with CONNECT_ERROR `{"message":"Invalid namespace"}`. Ctrl-C (or SIGTERM) closes
/// every session (`server shutting down`) and stops.
///
/// Examples:
///
///   netlab socketio server --port 3000
///   netlab socketio server --port 3000 --trace
///   netlab socketio server --app chat
///   netlab socketio server --port 0 --jsonl      (the first line says which port)
///
/// From Node: `io("http://127.0.0.1:3000").emit("hello", "world", (answer) => ...)`.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ServerArgs {
    /// Address to listen on. 127.0.0.1 keeps the server on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 lets the kernel choose (the URL printed says which).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// The application behind the server.
    #[arg(long, value_enum, default_value_t = AppKind::Echo)]
    pub app: AppKind,
    /// Show every Socket.IO packet in both directions.
    #[arg(long)]
    pub trace: bool,
    /// How often Engine.IO pings each client (the real server's default: 25 s).
    #[arg(long, default_value_t = 25_000, value_name = "MS")]
    pub ping_interval_ms: u64,
    /// How long a client may take to answer a ping before its session ends with
    /// `ping timeout` (the real server's default: 20 s).
    #[arg(long, default_value_t = 20_000, value_name = "MS")]
    pub ping_timeout_ms: u64,
}

/// The transports the client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientTransport {
    /// HTTP long-polling only: a GET waits for what the server sends, POSTs carry
    /// what the client sends.
    Polling,
    /// A WebSocket from the start.
    Websocket,
}

/// Connect to a Socket.IO server (netlab's or Node's), join a namespace, and emit the
/// events you type; what the server emits is printed as it comes.
///
/// As socket.io-client does, it starts with HTTP long-polling and then upgrades the
/// session to a WebSocket (`--transport` picks one only). When the connection drops, it
/// connects again after 1 s, 2 s, 4 s, then every 5 s (each delay moved by up to half at
/// random), sending back the session's `pid` and the last event's `offset`: a server
/// with connection state recovery replays what was missed (`recovered: true`). What you
/// emit while disconnected waits in a send buffer and goes out, in order, once the
/// socket is in again; volatile emits are dropped instead.
///
/// Type one command per line:
///
///   emit EVENT [ARG…]        an event; each ARG is JSON (42, "a b", {"x":1}), a word,
///                            or hex:0102ff for binary (sent as an attachment)
///   emit EVENT [ARG…] --ack  the same, asking the server to acknowledge it
///   volatile EVENT [ARG…]    an event dropped rather than buffered when disconnected
///   namespace /NAME          leave this namespace and join /NAME on the same session
///   disconnect               leave the namespace and close the connection
///   reconnect                connect again, in a new session
///   wait connected|disconnected|upgraded|EVENT [SECONDS]
///                            read no more commands until that is so (at most 30 s)
///   sleep MS                 read no more commands for MS milliseconds
///   quit                     leave and end (so does the end of input)
///
/// At the end of input, answers still awaited get up to 2 seconds to arrive. An event
/// from the server that asks for an acknowledgement is acknowledged with no arguments.
/// With `--trace` every packet is shown at each layer: the Socket.IO packet, the
/// Engine.IO packet, and the HTTP request or WebSocket frame that carried it.
///
/// Exit status: 0 when it ran (a namespace that refuses the socket is printed as
/// `refused:`); 1 when the server cannot be reached or refuses the handshake (an HTTP
/// error such as 400); 2 for bad arguments.
///
/// Examples:
///
///   netlab socketio client http://127.0.0.1:3000
///   netlab socketio client http://127.0.0.1:3000 --namespace /admin --auth '{"token":"abc"}'
///   netlab socketio client http://127.0.0.1:3000 --transport websocket --trace
///   echo 'emit hello "world" --ack' | netlab socketio client http://127.0.0.1:3000 --jsonl
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ClientArgs {
    /// The server: http://HOST:PORT or ws://HOST:PORT (the path is --path).
    pub url: String,
    /// The namespace to join.
    #[arg(long, default_value = "/")]
    pub namespace: String,
    /// Use one transport only (by default: polling, then the upgrade to websocket).
    #[arg(long, value_enum)]
    pub transport: Option<ClientTransport>,
    /// The CONNECT packet's payload, a JSON object: the server reads it as
    /// `socket.handshake.auth`.
    #[arg(long, value_name = "JSON")]
    pub auth: Option<String>,
    /// The server's Engine.IO path.
    #[arg(long, default_value = "/socket.io/")]
    pub path: String,
    /// Do not connect again when the connection drops.
    #[arg(long)]
    pub no_reconnection: bool,
    /// Attempts to connect again before giving up (by default, no limit).
    #[arg(long, value_name = "N")]
    pub reconnection_attempts: Option<u32>,
    /// The first delay before connecting again; it doubles at each attempt.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub reconnection_delay_ms: u64,
    /// The longest delay between attempts.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub reconnection_delay_max_ms: u64,
    /// How much of each delay is random, from 0 to 1 (0.5: up to half more or less).
    #[arg(long, default_value_t = 0.5, value_name = "FACTOR")]
    pub randomization_factor: f64,
    /// Show every packet at each layer, in both directions.
    #[arg(long)]
    pub trace: bool,
}
