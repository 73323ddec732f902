//! A node killed during a numbered broadcast stream. Fresh nodes, six clients in `/`
//! spread over them as in [`super::across`], and a seventh connection on n1 that asks
//! its node for `io.emit("tick", K)`, K = 1 to [`TICKS`]. After tick [`KILL_AT`] the last
//! node is killed ([`super::node::Node::kill`]): its clients' connections drop, each
//! waits [`RECONNECT_AFTER`] and connects to the next node; with connection state recovery
//! on it brings its private session id and last offset, as socket.io-client does.
//!
//! Recovery needs the other node to know the session: the sessions and missed events of
//! netlab's recovery are kept in the memory of the node that held them, so a node that
//! dies takes them along and the next node answers `recovered: false`. Keeping them for
//! every node needs a persistent adapter (Redis Streams), which netlab does not have.

use super::across::{await_ack, connect, ms, numbered, Client, WAIT};
use super::node::{start_nodes_with, Node, Setup};
use crate::net::socketio::client::Heard;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::task::JoinSet;

/// How many ticks the stream sends.
pub const TICKS: usize = 30;
/// The last node dies right after this tick was acknowledged.
pub const KILL_AT: usize = 10;
/// The time between two ticks.
pub const GAP: Duration = Duration::from_millis(40);
/// How long a dropped client waits before connecting to another node.
pub const RECONNECT_AFTER: Duration = Duration::from_millis(300);

/// What one client received of the stream.
#[derive(Debug, Clone, Serialize)]
pub struct Stream1 {
    pub name: String,
    pub node_before: String,
    /// The node it connected to after its own died.
    pub node_after: Option<String>,
    /// The server's word at that connection: did recovery give its state back?
    pub recovered: Option<bool>,
    /// Why the connection ended, in socket.io-client's words.
    pub dropped: Option<String>,
    /// Whether its new CONNECT carried the private session id of its first (recovery on).
    pub brought_pid: bool,
    pub received: usize,
    /// The ticks it never received, in order.
    pub missed: Vec<usize>,
}

/// One run of the stream.
#[derive(Debug, Clone, Serialize)]
pub struct KillRun {
    pub recovery: bool,
    pub killed: String,
    pub clients: Vec<Stream1>,
}

/// Both runs: without recovery, then with it.
#[derive(Debug, Clone, Serialize)]
pub struct Killed {
    pub ticks: usize,
    pub killed_after_tick: usize,
    pub gap_ms: u64,
    pub reconnect_after_ms: u64,
    pub runs: Vec<KillRun>,
}

/// The stream twice on `count` nodes sharing the adapter of `base`: recovery off, on.
pub async fn run(count: usize, base: &Setup) -> anyhow::Result<Killed> {
    anyhow::ensure!(count >= 2, "a node killed needs another node to go to");
    let mut runs = Vec::new();
    for recovery in [false, true] {
        let setup = Setup {
            recovery,
            ..base.clone()
        };
        let nodes = start_nodes_with(count, &setup).await?;
        let result = one_run(&nodes, recovery).await;
        for n in nodes {
            n.stop().await;
        }
        runs.push(result?);
    }
    Ok(Killed {
        ticks: TICKS,
        killed_after_tick: KILL_AT,
        gap_ms: ms(GAP),
        reconnect_after_ms: ms(RECONNECT_AFTER),
        runs,
    })
}

/// Where a client goes when its node dies.
struct Fallback {
    url: String,
    node: String,
    recovery: bool,
}

async fn one_run(nodes: &[Node], recovery: bool) -> anyhow::Result<KillRun> {
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    let last = nodes.len() - 1;
    let mut set = JoinSet::new();
    for (k, name) in ["A", "B", "C", "D", "E", "F"].into_iter().enumerate() {
        let at = k % nodes.len();
        let c = connect(&urls[at], name, "/", names[at], json!({})).await?;
        let next = (at + 1) % nodes.len();
        let fallback = Fallback {
            url: urls[next].clone(),
            node: names[next].to_owned(),
            recovery,
        };
        set.spawn(async move { (k, follow(c, fallback).await) });
    }
    let mut sender = connect(&urls[0], "sender", "/", names[0], json!({})).await?;
    let mut killed = None;
    for k in 1..=TICKS {
        let asked = sender.sio.emit("tick", vec![json!(k).into()], true).await?;
        await_ack(&mut sender, asked, "tick", k).await?;
        if k == KILL_AT {
            killed = Some(names[last].to_owned());
            nodes[last].kill().await;
        }
        tokio::time::sleep(GAP).await;
    }
    let _ = sender.sio.disconnect().await;
    let mut clients = Vec::new();
    while let Some(r) = set.join_next().await {
        let (k, r) = r?;
        clients.push((k, r?));
    }
    clients.sort_by_key(|(k, _)| *k);
    let mut out = Vec::new();
    for (_, (mut s, socket_after)) in clients {
        if let (Some(id), Some(after)) = (socket_after, &s.node_after) {
            s.recovered = nodes
                .iter()
                .find(|n| &n.name == after)
                .and_then(|n| n.recovered(&id));
        }
        out.push(s);
    }
    Ok(KillRun {
        recovery,
        killed: killed.unwrap_or_default(),
        clients: out,
    })
}

/// Read the stream until its last tick (or a deadline); when the connection drops, go to
/// the fallback node. Returns what was received and the socket id on the new node.
async fn follow(mut c: Client, to: Fallback) -> anyhow::Result<(Stream1, Option<String>)> {
    let mut got = BTreeSet::new();
    let mut s = Stream1 {
        name: c.member.name.clone(),
        node_before: c.member.node.clone(),
        node_after: None,
        recovered: None,
        dropped: None,
        brought_pid: false,
        received: 0,
        missed: Vec::new(),
    };
    let mut socket_after = None;
    let budget = GAP * u32::try_from(TICKS).unwrap_or(u32::MAX) * 3 + WAIT;
    let deadline = tokio::time::Instant::now() + budget;
    while !got.contains(&TICKS) {
        let Ok(h) = tokio::time::timeout_at(deadline, c.sio.next()).await else {
            break;
        };
        let closed = match h {
            Ok(Heard::Event { name, args, .. }) => {
                got.extend(numbered(&name, &args, "tick"));
                None
            }
            Ok(Heard::Closed { reason }) => Some(reason.to_owned()),
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        };
        let Some(reason) = closed else { continue };
        if s.dropped.is_some() {
            break;
        }
        s.dropped = Some(reason);
        tokio::time::sleep(RECONNECT_AFTER).await;
        let auth = match (to.recovery, c.sio.pid(), c.sio.offset()) {
            (true, Some(pid), Some(offset)) => json!({"pid": pid, "offset": offset}),
            (true, Some(pid), None) => json!({"pid": pid}),
            _ => json!({}),
        };
        s.brought_pid = auth.get("pid").is_some();
        c = connect(&to.url, &s.name, "/", &to.node, auth).await?;
        s.node_after = Some(to.node.clone());
        socket_after = Some(c.member.socket.clone());
    }
    let _ = c.sio.disconnect().await;
    s.received = got.len();
    s.missed = (1..=TICKS).filter(|k| !got.contains(k)).collect();
    Ok((s, socket_after))
}
