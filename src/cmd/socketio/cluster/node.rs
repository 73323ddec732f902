//! One node of the cluster: a netlab Socket.IO server on loopback with the cluster's
//! application, on a runtime (and a thread) of its own, so that it can be killed: its
//! runtime is dropped at once, every task with it, and every TCP connection it held
//! closes without a Socket.IO or Engine.IO goodbye, as when a server process dies.
//!
//! Events the application answers (each acknowledged when asked):
//! - `where` → `{"node": "n1", "socket": ID}`: the node that holds this socket;
//! - `join` ROOM → the socket joins the room; the answer is its rooms;
//! - `line` [I, ID_OF_B] → cheatsheet line I run by this socket ([`run_line`]); for an
//!   emit with ack, `answers` `{"line": I, "answers": [NAMES], "timed_out": BOOL}` to the
//!   socket once the answers are in;
//! - `tick` K → `io.emit("tick", K)`, the numbered stream.
//!
//! With an adapter ([`Setup::redis`]) the node shares broadcasts with the others through
//! Redis; without one it knows only its own sockets.

use crate::cmd::socketio::demo::cheatsheet::{Op, LINES};
use crate::error::HintExt;
use crate::net::socketio::adapter::{AdapterEvent, Link, RedisUrl};
use crate::net::socketio::{self, App};
use crate::wire::application::socketio::recovery::RecoveryOptions;
use crate::wire::application::socketio::{AppEvent, Data, Options, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The event every cheatsheet line carries.
pub const LINE: &str = "cheat";

/// The namespace besides `/`.
pub const ADMIN: &str = crate::cmd::socketio::demo::app::ADMIN;

/// How a node is set up.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The Redis adapter's server; `None`: no adapter.
    pub redis: Option<RedisUrl>,
    /// Connection state recovery on.
    pub recovery: bool,
}

/// What a node saw, for the driver: sockets connecting (with the server's word on
/// recovery), and whether its adapter is subscribed.
#[derive(Debug, Default)]
pub struct Seen {
    pub connects: Vec<(String, bool)>,
    pub adapter_up: bool,
    pub adapter_events: Vec<String>,
}

type SeenLog = Arc<Mutex<Seen>>;

fn lock(seen: &SeenLog) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running node; [`Node::stop`] shuts it down (every session closes), [`Node::kill`]
/// drops it at once.
pub struct Node {
    /// `n1`, `n2`, …
    pub name: String,
    pub addr: SocketAddr,
    seen: SeenLog,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<bool>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Node {
    /// Start node `name` without an adapter.
    pub async fn start(name: &str) -> anyhow::Result<Node> {
        Node::start_with(name, &Setup::default()).await
    }

    /// Start node `name` on 127.0.0.1, a port the kernel chooses.
    pub async fn start_with(name: &str, setup: &Setup) -> anyhow::Result<Node> {
        let seen = SeenLog::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<bool>();
        let (bound_tx, bound) = tokio::sync::oneshot::channel();
        let app = ClusterApp {
            name: name.to_owned(),
            seen: seen.clone(),
            pending: HashMap::new(),
        };
        let setup = setup.clone();
        let thread = std::thread::Builder::new()
            .name(format!("netlab-{name}"))
            .spawn(move || run_node(app, setup, stopped, bound_tx))
            .failed("could not start a thread for a node")?;
        let addr = bound
            .await
            .map_err(|_| anyhow::anyhow!("the node's thread ended before listening"))??;
        Ok(Node {
            name: name.to_owned(),
            addr,
            seen,
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Did connection state recovery give back socket `id`'s state when it connected?
    /// `None`: no such socket connected to this node.
    pub fn recovered(&self, id: &str) -> Option<bool> {
        lock(&self.seen)
            .connects
            .iter()
            .rev()
            .find(|(s, _)| s == id)
            .map(|(_, r)| *r)
    }

    /// Is the node's adapter subscribed to Redis?
    pub fn adapter_up(&self) -> bool {
        lock(&self.seen).adapter_up
    }

    /// Shut it down and wait (at most 5 s) for it to end; nothing when it was killed.
    pub async fn stop(self) {
        self.end(false).await;
    }

    /// Kill it: its runtime and every connection go at once.
    pub async fn kill(&self) {
        self.end(true).await;
    }

    async fn end(&self, kill: bool) {
        let stop = self.stop.lock().ok().and_then(|mut s| s.take());
        if let Some(stop) = stop {
            let _ = stop.send(kill);
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::time::timeout(
                Duration::from_secs(6),
                tokio::task::spawn_blocking(move || thread.join()),
            )
            .await;
        }
    }
}

/// The node's thread: bind, serve until told to stop (gracefully) or to die.
fn run_node(
    app: ClusterApp,
    setup: Setup,
    stopped: tokio::sync::oneshot::Receiver<bool>,
    bound: tokio::sync::oneshot::Sender<anyhow::Result<SocketAddr>>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = bound.send(Err(e.into()));
            return;
        }
    };
    rt.block_on(async move {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let engine = match socketio::bind(any_port, socketio::engine_config()).await {
            Ok(e) => e,
            Err(e) => {
                let _ = bound.send(Err(e).failed("could not listen on 127.0.0.1"));
                return;
            }
        };
        let _ = bound.send(Ok(engine.local_addr()));
        let options = Options {
            recovery: setup.recovery.then(RecoveryOptions::default),
            ..Options::default()
        };
        let mut io = socketio::machine(options);
        io.add_namespace(ADMIN, false);
        let link = setup.redis.map(|url| {
            io.enable_adapter(&crate::cmd::socketio::server::node_uid());
            Link::start(url, io.adapter_subscriptions())
        });
        let (graceful_tx, graceful) = tokio::sync::oneshot::channel::<()>();
        let serve = socketio::serve_with(
            engine,
            io,
            app,
            async move {
                let _ = graceful.await;
            },
            link,
        );
        tokio::pin!(serve);
        tokio::select! {
            () = &mut serve => {}
            kill = stopped => {
                if kill.unwrap_or(true) {
                    // Dropping the runtime below drops every task unpolled.
                    return;
                }
                let _ = graceful_tx.send(());
                let _ = tokio::time::timeout(Duration::from_secs(5), serve).await;
            }
        }
    });
    rt.shutdown_background();
}

/// Start `count` nodes without an adapter, `n1` to `nCOUNT`.
pub async fn start_nodes(count: usize) -> anyhow::Result<Vec<Node>> {
    start_nodes_with(count, &Setup::default()).await
}

/// Start `count` nodes set up as `setup`; with an adapter, wait (at most 5 s) until each
/// is subscribed.
pub async fn start_nodes_with(count: usize, setup: &Setup) -> anyhow::Result<Vec<Node>> {
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        nodes.push(Node::start_with(&crate::net::balancer::node_name(i), setup).await?);
    }
    if setup.redis.is_some() {
        for _ in 0..100 {
            if nodes.iter().all(Node::adapter_up) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Some(n) = nodes.iter().find(|n| !n.adapter_up()) {
            let events = lock(&n.seen).adapter_events.join("; ");
            anyhow::bail!(
                "node {}'s adapter did not reach Redis within 5 s ({events})",
                n.name
            );
        }
    }
    Ok(nodes)
}

/// How long the cheatsheet's emits with ack wait for their answers.
pub use crate::cmd::socketio::demo::app::ACK_TIMEOUT;

/// The most emits with ack a node waits for at once (past it, answers are not reported).
const MAX_PENDING: usize = 1024;

/// Run cheatsheet line `i` as socket `me` of `/`; `b` is client B's socket id. For an
/// emit with ack, its id: the answers come later ([`AppEvent::Acked`]).
pub fn run_line(io: &mut Server, me: &str, i: usize, b: &str) -> Option<u64> {
    let line = LINES.get(i)?;
    let args = || vec![Data::from(json!(i))];
    // An emit fails only for a namespace or socket that is not there: the table then
    // shows nobody receiving the line, which is what happened.
    let _ = match line.op {
        Op::SocketEmit => io.socket("/", me).emit(LINE, args()),
        Op::IoEmit => io.of("/").emit(LINE, args()),
        Op::IoLocalEmit => io.of("/").local().emit(LINE, args()),
        Op::Broadcast => io.socket("/", me).broadcast().emit(LINE, args()),
        Op::ToRoom => io.to("room1").emit(LINE, args()),
        Op::ToRoomsExcept => io
            .of("/")
            .to("room1")
            .to("room2")
            .except("room3")
            .emit(LINE, args()),
        Op::SocketToRoom => io.socket("/", me).to("room1").emit(LINE, args()),
        Op::OfNamespace => io.of(ADMIN).emit(LINE, args()),
        Op::Private => io.socket("/", me).to(b).emit(LINE, args()),
        Op::ToSelf => io.socket("/", me).to(me).emit(LINE, args()),
        Op::Volatile => io.socket("/", me).volatile().emit(LINE, args()),
        Op::SocketTimeout => {
            let s = io.socket("/", me).timeout(ACK_TIMEOUT);
            return s.emit_with_ack(LINE, args()).ok();
        }
        Op::IoTimeout => {
            let o = io.of("/").timeout(ACK_TIMEOUT);
            return o.emit_with_ack(LINE, args()).ok();
        }
    };
    None
}

/// The cluster's application on one node.
struct ClusterApp {
    name: String,
    seen: SeenLog,
    /// Emit-with-ack id → the socket that ran the cheatsheet line, and the line.
    pending: HashMap<u64, (String, usize)>,
}

impl ClusterApp {
    /// The answers to an emit with ack came (or its time ran out): tell the socket that
    /// ran the line who answered (each client answers with its name).
    fn answered(
        &mut self,
        io: &mut Server,
        id: u64,
        responses: &[(String, Vec<Data>)],
        late: bool,
    ) {
        let Some((me, i)) = self.pending.remove(&id) else {
            return;
        };
        let mut from: Vec<String> = responses
            .iter()
            .map(|(socket, args)| {
                let name = args.first().and_then(Data::as_json).and_then(Value::as_str);
                name.map_or_else(|| socket.clone(), str::to_owned)
            })
            .collect();
        from.sort();
        let body = json!({"line": i, "answers": from, "timed_out": late});
        let _ = io.socket("/", &me).emit("answers", vec![body.into()]);
    }

    fn on_event(
        &mut self,
        io: &mut Server,
        ns: &str,
        me: &str,
        name: &str,
        args: &[Data],
    ) -> Vec<Data> {
        let arg = |k: usize| args.get(k).and_then(Data::as_json).cloned();
        match name {
            "where" => vec![json!({"node": self.name, "socket": me}).into()],
            "join" => {
                let room = arg(0);
                let room = room.as_ref().and_then(Value::as_str).unwrap_or_default();
                let _ = io.socket(ns, me).join(room);
                vec![json!(io.rooms_of(ns, me)).into()]
            }
            "line" => {
                let i = arg(0).and_then(|v| v.as_u64()).unwrap_or(u64::MAX);
                let b = arg(1);
                let b = b.as_ref().and_then(Value::as_str).unwrap_or_default();
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                if let Some(id) = run_line(io, me, i, b) {
                    if self.pending.len() < MAX_PENDING {
                        self.pending.insert(id, (me.to_owned(), i));
                    }
                }
                vec![json!({"node": self.name}).into()]
            }
            "tick" => {
                let _ = io.of("/").emit("tick", args.to_vec());
                vec![json!({"node": self.name}).into()]
            }
            _ => args.to_vec(),
        }
    }
}

impl App for ClusterApp {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        match event {
            AppEvent::Connected {
                socket, recovered, ..
            } => lock(&self.seen).connects.push((socket, recovered)),
            AppEvent::Event {
                namespace,
                socket,
                name,
                args,
                ack,
            } => {
                let answer = self.on_event(io, &namespace, &socket, &name, &args);
                if let Some(id) = ack {
                    let _ = io.ack(&namespace, &socket, id, answer);
                }
            }
            AppEvent::Acked { id, responses, .. } => self.answered(io, id, &responses, false),
            AppEvent::AckTimedOut { id, responses, .. } => {
                self.answered(io, id, &responses, true);
            }
            _ => {}
        }
    }

    fn adapter(&mut self, event: AdapterEvent) {
        let mut seen = lock(&self.seen);
        match &event {
            AdapterEvent::Connected { .. } => seen.adapter_up = true,
            AdapterEvent::Lost { .. } => seen.adapter_up = false,
            AdapterEvent::Unreadable { .. } => {}
        }
        if seen.adapter_events.len() < 64 {
            seen.adapter_events.push(format!("{event:?}"));
        }
    }
}
