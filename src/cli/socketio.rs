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
    Cluster(ClusterArgs),
}

/// Which balancer stands in front of the cluster's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BalancerKind {
    /// netlab's own, in this process.
    Netlab,
    /// A real haproxy (apt-get install haproxy), started with a configuration written
    /// for each policy and stopped afterwards.
    Haproxy,
}

/// Several netlab Socket.IO nodes on this machine's loopback, in this process, and what
/// changes when there is more than one.
///
/// First, sticky sessions: the nodes behind a balancer, six clients through it (A to D
/// long-polling, each request on a TCP connection of its own and from an address of its
/// own, 127.0.0.2 to 127.0.0.5; E and F WebSocket). Round robin sends a polling client's
/// second request to the node that never saw its session: HTTP 400 `Session ID
/// unknown`. A WebSocket keeps one TCP connection, so it does not care. Sticky by source
/// address, or by a cookie naming the node, keeps every request of a client on one node.
///
/// Then the emit cheatsheet across the nodes (three by default): six WebSocket clients in
/// rooms and namespaces spread over them, client A asks its node to run each line, and a
/// table shows who received it; `io.emit` reaches every node, `io.local.emit` only A's.
/// Last, a node is killed during a numbered broadcast stream: its clients move to another
/// node, without and with connection state recovery, and a table shows what each missed.
///
/// The nodes share broadcasts through the Redis adapter: the Redis given with --redis, or
/// a private redis-server started on a free port when one is installed (apt-get install
/// redis-server). Without an answering Redis the nodes run without an adapter, each
/// knowing only its own sockets, and the output says so.
///
/// Examples:
///
///   netlab socketio cluster
///   netlab socketio cluster --nodes 3 --balancer haproxy
///   netlab socketio cluster --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ClusterArgs {
    /// How many nodes (2 to 9).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=9))]
    pub nodes: u8,
    /// The balancer in front of the nodes for the sticky-session part.
    #[arg(long, value_enum, default_value_t = BalancerKind::Netlab)]
    pub balancer: BalancerKind,
    /// A Redis to use, as redis://HOST:PORT (by default a private redis-server).
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
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
    /// The course's chat, spoken by the page at `/`: the events `nick`, `join`, `leave`,
    /// `chat message` (to everyone, or `{room, text}` to a room), `private` (`{to, text}`,
    /// to a socket id) and `typing` (sent on volatile); each acknowledged once done.
    /// A second namespace, `/news`, gets a line whenever someone picks a name or joins a room.
    Chat,
    /// Every event goes back to its sender under the same name with the same arguments
    /// (binary included); an event that asks for an acknowledgement is acknowledged with
    /// its arguments instead. Namespaces `/` and `/custom`.
    Echo,
    /// The servers the Engine.IO and Socket.IO protocol test suites expect, on one port:
    /// a raw Engine.IO echo at `/engine.io/` and, at `/socket.io/`, namespaces `/` and
    /// `/custom` where each socket gets `auth` (its CONNECT payload), `message` comes
    /// back as `message-back` and `message-with-ack` is acknowledged with its arguments;
    /// pings every 300 ms, 200 ms to answer.
    Conformance,
    /// For load generators (`benches/sio-bench`): echo, plus `join ROOM`, `broadcast ARGS…`
    /// (to everyone but the sender) and `room ROOM ARGS…` (to everyone in ROOM), each
    /// acknowledged with its arguments when asked. Use it with `--quiet`.
    Bench,
    /// The broadcast operators on command, to watch them cross the nodes of a cluster
    /// (with --adapter): `join`/`leave ROOM`; `all TEXT` (io.emit), `room ROOM TEXT`
    /// (io.to), `except ROOM TEXT` (io.except), `local TEXT` (io.local.emit), each sent
    /// as `message`; `ask TEXT` emits `question` to everyone and acknowledges with all
    /// the answers.
    Broadcast,
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
/// The chat (the default) also serves its page at `/`: open http://127.0.0.1:3000/ in two
/// browser tabs and chat. The page and the Socket.IO client script it loads from
/// `/socket.io/socket.io.js` (as the real server serves its own) are netlab's, small and
/// commented: view the page's source to read how a client speaks Engine.IO and Socket.IO.
///
/// Namespaces: the chat has `/` and `/news`, the echo `/` and `/custom`; a client that
/// asks for another one is refused with CONNECT_ERROR `{"message":"Invalid namespace"}`.
/// Ctrl-C (or SIGTERM) closes every session (`server shutting down`) and stops.
///
/// Examples:
///
///   netlab socketio server --port 3000           (then open http://127.0.0.1:3000/)
///   netlab socketio server --port 3000 --trace
///   netlab socketio server --app echo
///   netlab socketio server --app conformance     (for a protocol test suite)
///   netlab socketio server --port 0 --jsonl      (the first line says which port)
///   netlab socketio server --app bench --quiet   (under a load generator)
///   netlab socketio server --port 3001 --app broadcast --adapter redis://127.0.0.1:6379
///
/// From Node: `io("http://127.0.0.1:3000").emit("chat message", "hi", (answer) => ...)`.
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
    #[arg(long, value_enum, default_value_t = AppKind::Chat)]
    pub app: AppKind,
    /// Show every Socket.IO packet in both directions.
    #[arg(long)]
    pub trace: bool,
    /// Report sessions and sockets only, not every event (for load tests).
    #[arg(long, conflicts_with = "trace")]
    pub quiet: bool,
    /// Let pages from ORIGIN (such as http://localhost:8080, or * for any page) read the
    /// long-polling answers: CORS, off by default as in the real server. Pages this
    /// server serves itself (the chat) need none, and WebSocket is not subject to it.
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// Be one node of several: share broadcasts, acknowledgements and requests with the
    /// other Socket.IO servers (netlab's or Node's with @socket.io/redis-adapter) through
    /// the Redis server at this URL (Pub/Sub, channels `socket.io#/#...`).
    #[arg(long, value_name = "redis://HOST:PORT")]
    pub adapter: Option<String>,
    /// How often Engine.IO pings each client [default: 25000, the real server's; 300
    /// with --app conformance].
    #[arg(long, value_name = "MS")]
    pub ping_interval_ms: Option<u64>,
    /// How long a client may take to answer a ping before its session ends with
    /// `ping timeout` [default: 20000, the real server's; 200 with --app conformance].
    #[arg(long, value_name = "MS")]
    pub ping_timeout_ms: Option<u64>,
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
///   wait connected|disconnected|upgraded|EVENT [MAX-SECONDS]
///                            read no more commands until that is so (by default at
///                            most 30 s)
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
///   netlab socketio client http://127.0.0.1:3000 --namespace /news --auth '{"token":"abc"}'
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
