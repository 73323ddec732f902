//! What goes into the server and comes out of it: its options, the actions it asks of
//! the driver, the events the application hears, the modifiers of an emit, and why a
//! socket left. The machine itself is in [`super::server`].

use super::adapter::RemoteSocket;
use super::data::Data;
use super::decoder::Limits;
use super::recovery::RecoveryOptions;
use super::rooms::Target;
use super::{EngineMessage, PacketError};
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A socket id as the real server makes them (`base64id`): 12 random bytes and the low
/// 3 bytes of a sequence number, 15 bytes in URL-safe base64, 20 characters
/// (`wZX3oN0bSVIhsaknAAAI` is number 8).
pub fn socket_id(random: [u8; 12], sequence: u32) -> String {
    let mut bytes = [0u8; 15];
    bytes[..12].copy_from_slice(&random);
    bytes[12..].copy_from_slice(&sequence.to_be_bytes()[1..]);
    URL_SAFE.encode(bytes)
}

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// A session that joins no namespace within this time is closed (real default 45 s).
    pub connect_timeout: Duration,
    pub limits: Limits,
    /// Connection state recovery; `None` (off) by default, as in the real server.
    pub recovery: Option<RecoveryOptions>,
    /// netlab's bound on the acknowledgements a client may be owed per socket: past it,
    /// the oldest unanswered one is forgotten (the application's answer to it is refused).
    pub max_unanswered_acks: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: Duration::from_secs(45),
            limits: Limits::default(),
            recovery: None,
            max_unanswered_acks: 1024,
        }
    }
}

/// Why a socket left its namespace: the strings the real server gives its `disconnect`
/// listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The connection failed (Engine.IO transport error).
    TransportError,
    /// The connection was closed (the client went away).
    TransportClose,
    /// The server closed the connection (a malformed packet, an invalid state, a timeout).
    ForcedClose,
    /// The client stopped answering Engine.IO pings.
    PingTimeout,
    /// Engine.IO could not parse what it received.
    ParseError,
    ServerShuttingDown,
    /// The server closed the session on purpose.
    ForcedServerClose,
    /// The client sent DISCONNECT.
    ClientNamespaceDisconnect,
    /// The application called `disconnect()`.
    ServerNamespaceDisconnect,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::ForcedServerClose => "forced server close",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
        }
    }

    /// May the client come back and recover its state? Not when a side left on purpose
    /// (the real server's `RECOVERABLE_DISCONNECT_REASONS`; `parse error` is not in it).
    pub fn is_recoverable(self) -> bool {
        !matches!(
            self,
            DisconnectReason::ParseError
                | DisconnectReason::ClientNamespaceDisconnect
                | DisconnectReason::ServerNamespaceDisconnect
        )
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server asks the driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send these Engine.IO messages, in order. A broadcast shares one encoding among all
    /// its receivers. `volatile`: the driver may drop them if the transport cannot take them
    /// now; `compress`: the application allowed compression.
    Send {
        session: String,
        messages: Arc<[EngineMessage]>,
        volatile: bool,
        compress: bool,
    },
    /// Close the Engine.IO session.
    Close {
        session: String,
    },
    App(AppEvent),
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// A client asks to join a namespace with middleware: answer with
    /// [`Server::accept`](super::Server::accept) or [`Server::refuse`](super::Server::refuse).
    ConnectRequest {
        session: String,
        namespace: String,
        auth: Option<Map<String, Value>>,
    },
    Connected {
        namespace: String,
        socket: String,
        session: String,
        auth: Option<Map<String, Value>>,
        /// Connection state recovery gave back this socket's id, rooms and missed events.
        recovered: bool,
    },
    /// An event from a client; with `ack`, it waits for [`Server::ack`](super::Server::ack).
    Event {
        namespace: String,
        socket: String,
        name: String,
        args: Vec<Data>,
        ack: Option<u64>,
    },
    /// Every receiver of an emit with ack answered (or left, for an emit without timeout).
    Acked {
        namespace: String,
        id: u64,
        responses: Vec<(String, Vec<Data>)>,
    },
    /// The timeout of an emit with ack passed before every receiver answered.
    AckTimedOut {
        namespace: String,
        id: u64,
        responses: Vec<(String, Vec<Data>)>,
        expected: usize,
    },
    Disconnected {
        namespace: String,
        socket: String,
        reason: DisconnectReason,
    },
    /// A client broke the packet format; its session is closed.
    ProtocolError { session: String, error: PacketError },
    /// Another node's `io.serverSideEmit(name, ..args)`; with `ack`, it waits for
    /// [`Server::server_side_ack`](super::Server::server_side_ack).
    ServerSideEmit {
        namespace: String,
        name: String,
        args: Vec<Data>,
        ack: Option<u64>,
    },
    /// The answer to [`Server::fetch_sockets`](super::Server::fetch_sockets): the sockets of
    /// every node, this one's first; `complete: false` if a node did not answer in time.
    FetchedSockets {
        namespace: String,
        id: u64,
        sockets: Vec<RemoteSocket>,
        complete: bool,
    },
    /// The answers to a server-side emit with ack, one per other node.
    ServerSideAcked {
        namespace: String,
        id: u64,
        responses: Vec<Data>,
        complete: bool,
    },
}

/// An application request the server cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("no namespace {0:?} on this server")]
    UnknownNamespace(String),
    #[error("no socket {socket:?} in namespace {namespace:?}")]
    UnknownSocket { namespace: String, socket: String },
    #[error("the event name {0:?} is reserved")]
    ReservedEventName(String),
    #[error("no connect of session {session:?} to {namespace:?} awaits a decision")]
    NoPendingConnect { session: String, namespace: String },
    #[error("socket {socket:?} awaits no acknowledgement with id {id}")]
    AckNotAwaited { socket: String, id: u64 },
    #[error("no server-side emit with id {0} awaits an answer")]
    NoServerSideEmit(u64),
}

/// An event to emit: to whom, what, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub target: Target,
    pub name: String,
    pub args: Vec<Data>,
    pub flags: Flags,
}

/// The modifiers of an emit (`volatile`, `compress(false)`, `timeout(d)`, an ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub volatile: bool,
    pub compress: bool,
    /// Ask each receiver for an acknowledgement.
    pub ack: bool,
    /// With `ack`: give up waiting after this long ([`AppEvent::AckTimedOut`]).
    pub timeout: Option<Duration>,
    /// `io.local`: this node's sockets only, even when the server is one node of several.
    pub local: bool,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            volatile: false,
            compress: true,
            ack: false,
            timeout: None,
            local: false,
        }
    }
}
