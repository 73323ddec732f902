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
    Demo(DemoArgs),
}

/// Watch Socket.IO work, step by step, on this machine's loopback: netlab servers and
/// clients in one process, every packet shown.
///
/// A client written out by hand opens a session over HTTP long-polling (raw GET and POST
/// requests), joins a namespace, emits, asks for an acknowledgement, upgrades to
/// WebSocket (`2probe`, `3probe`, `5`) and joins a second namespace on the same
/// connection. Then six clients in different rooms and namespaces receive the emit
/// cheatsheet line by line, and a table shows who got each line. Last: a volatile event
/// dropped, a client that stops answering heartbeats, and a missed event recovered with
/// connection state recovery.
///
/// Examples:
///
///   netlab socketio demo
///   netlab socketio demo --json      (everything measured, for scripts)
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {}

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

/// Connect to a Socket.IO server (netlab's or Node's) over WebSocket, join a namespace,
/// and emit the events you type; what the server emits is printed as it comes.
///
/// Type one command per line:
///
///   emit EVENT [ARG…]     an event; each ARG is JSON (42, "a b", {"x":1}) or a word
///   ack EVENT [ARG…]      the same, asking the server to acknowledge it
///   disconnect            leave the namespace and close (so does the end of input)
///
/// At the end of input, answers still awaited get up to 2 seconds to arrive. An event
/// from the server that asks for an acknowledgement is acknowledged with no arguments.
///
/// Examples:
///
///   netlab socketio client http://127.0.0.1:3000
///   netlab socketio client http://127.0.0.1:3000 --namespace /admin --trace
///   echo 'ack hello "world"' | netlab socketio client http://127.0.0.1:3000 --jsonl
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ClientArgs {
    /// The server: http://HOST:PORT or ws://HOST:PORT (the path is always /socket.io/).
    pub url: String,
    /// The namespace to join.
    #[arg(long, default_value = "/")]
    pub namespace: String,
    /// Show every Socket.IO packet in both directions.
    #[arg(long)]
    pub trace: bool,
}
