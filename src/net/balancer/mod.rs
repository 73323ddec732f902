//! A small load balancer of netlab's own: one listening socket in front of several nodes,
//! each accepted TCP connection joined to a new connection to one node, bytes copied both
//! ways until either side closes.
//!
//! ```text
//!   client ──TCP──► balancer ──TCP──► node n1
//!   client ──TCP──►    │     ──TCP──► node n2      which node: the policy
//!   client ──TCP──►    │     ──TCP──► node n1      (round robin, source address, cookie)
//! ```
//!
//! The policies ([`Policy`], decided in [`policy`]) are those of haproxy and nginx:
//! round robin per connection, sticky by the client's address, and sticky by a cookie that
//! names the node. For the cookie it reads the first request head of each connection
//! (bounded: 8 KiB, 10 s), and adds `Set-Cookie` to the first response head when the
//! request carried none; after that it copies bytes and no longer looks at them, so every
//! request of one connection goes where its first went (a WebSocket included).
//!
//! A node that refuses the connection is skipped: the next one is tried, as haproxy's
//! `option redispatch` does; when none answers, the client's connection is closed.

pub mod policy;

pub use policy::{node_name, Policy, COOKIE};

use crate::wire::application::http1::{parse_request, parse_response, Scan, DEFAULT_HEAD_LIMIT};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// How long a client may take to send its first request head (cookie policy), and a node
/// its first response head.
const HEAD_WAIT: Duration = Duration::from_secs(10);

/// How long a client's bytes are still carried after its node closed the connection.
const AFTER_NODE_CLOSED: Duration = Duration::from_secs(1);

/// How long a node may take to accept a connection.
const CONNECT_WAIT: Duration = Duration::from_secs(3);

/// What the balancer counted, per node, since it started.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections joined to each node.
    pub connections: Vec<AtomicU64>,
    /// Connections closed because no node answered.
    pub refused: AtomicU64,
    /// Cookies set (first responses to clients without one).
    pub cookies_set: AtomicU64,
}

impl Counters {
    /// Connections per node, now.
    pub fn per_node(&self) -> Vec<u64> {
        self.connections
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

/// The balancer, listening.
pub struct Balancer {
    listener: TcpListener,
    nodes: Arc<Vec<SocketAddr>>,
    policy: Policy,
    next: Arc<AtomicUsize>,
    counters: Arc<Counters>,
}

impl Balancer {
    /// Listen on `addr` in front of `nodes` (at least one).
    pub async fn bind(
        addr: SocketAddr,
        nodes: Vec<SocketAddr>,
        policy: Policy,
    ) -> std::io::Result<Balancer> {
        if nodes.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a balancer needs at least one node",
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let counters = Counters {
            connections: nodes.iter().map(|_| AtomicU64::new(0)).collect(),
            ..Counters::default()
        };
        Ok(Balancer {
            listener,
            nodes: Arc::new(nodes),
            policy,
            next: Arc::new(AtomicUsize::new(0)),
            counters: Arc::new(counters),
        })
    }

    /// Where clients connect.
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has an address; the fallback is never used.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The counters, to read while it runs.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Accept and relay until `shutdown` completes; then every relayed connection is cut.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let Ok((client, peer)) = accepted else {
                        // Out of file descriptors, most likely: wait instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let relay = Relay {
                        nodes: Arc::clone(&self.nodes),
                        policy: self.policy,
                        next: Arc::clone(&self.next),
                        counters: Arc::clone(&self.counters),
                    };
                    tasks.spawn(async move { relay.run(client, peer).await });
                }
                () = &mut shutdown => break,
            }
            while tasks.try_join_next().is_some() {}
        }
        tasks.shutdown().await;
    }
}

/// What one connection's task needs.
struct Relay {
    nodes: Arc<Vec<SocketAddr>>,
    policy: Policy,
    next: Arc<AtomicUsize>,
    counters: Arc<Counters>,
}

impl Relay {
    /// The next node in turn.
    fn in_turn(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len()
    }

    async fn run(self, mut client: TcpStream, peer: SocketAddr) {
        let _ = client.set_nodelay(true);
        let mut first = Vec::new();
        let (choice, set_cookie) = match self.policy {
            Policy::RoundRobin => (self.in_turn(), false),
            Policy::Source => (policy::by_source(peer.ip(), self.nodes.len()), false),
            Policy::Cookie => {
                let Some(named) = first_request(&mut client, &mut first).await else {
                    return;
                };
                match named.and_then(|h| policy::cookie_node(&h, self.nodes.len())) {
                    Some(node) => (node, false),
                    None => (self.in_turn(), true),
                }
            }
        };
        let Some((index, mut node)) = self.connect_from(choice).await else {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return;
        };
        // A client sent to another node than its cookie named gets the new one.
        let set_cookie = set_cookie || (self.policy == Policy::Cookie && index != choice);
        if let Some(c) = self.counters.connections.get(index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let _ = node.set_nodelay(true);
        if node.write_all(&first).await.is_err() {
            return;
        }
        let (client_rd, client_wr) = client.into_split();
        let (node_rd, node_wr) = node.into_split();
        let cookie = set_cookie.then(|| policy::set_cookie(index));
        if cookie.is_some() {
            self.counters.cookies_set.fetch_add(1, Ordering::Relaxed);
        }
        let up = pipe(client_rd, node_wr, None);
        let down = pipe(node_rd, client_wr, cookie);
        tokio::pin!(up, down);
        tokio::select! {
            // The client has said all it will (a half-close): the node may still answer.
            () = &mut up => down.await,
            // The node is done: whatever the client still sends has nowhere to go, so it
            // gets a moment to finish and is then cut off.
            () = &mut down => {
                let _ = tokio::time::timeout(AFTER_NODE_CLOSED, up).await;
            }
        }
    }

    /// Connect to node `choice`, or the next ones in turn when it refuses.
    async fn connect_from(&self, choice: usize) -> Option<(usize, TcpStream)> {
        let n = self.nodes.len();
        for k in 0..n {
            let index = (choice + k) % n;
            let addr = self.nodes[index];
            if let Ok(Ok(s)) = tokio::time::timeout(CONNECT_WAIT, TcpStream::connect(addr)).await {
                return Some((index, s));
            }
        }
        None
    }
}

/// Read the client's first request head into `buf` (the bytes go on to the node as they
/// are). `Some(None)` when it is not HTTP or the client closed before a whole head: the
/// bytes read still go to a node chosen in turn. `None` when nothing came at all.
async fn first_request(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Option<Option<crate::wire::application::http1::Headers>> {
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match parse_request(buf, DEFAULT_HEAD_LIMIT) {
                Ok(Scan::Complete { value, .. }) => return Some(value.headers),
                Ok(Scan::NeedMore) => {}
                Err(_) => return None,
            }
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let headers = tokio::time::timeout(HEAD_WAIT, read).await.ok().flatten();
    if headers.is_none() && buf.is_empty() {
        return None;
    }
    Some(headers)
}

/// Copy `from` to `to` until `from` ends, then end `to` (a half-close, as TCP allows).
/// With `field`, the first response head gets that header field added first.
async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    field: Option<String>,
) {
    if let Some(field) = field {
        if add_to_head(&mut from, &mut to, &field).await.is_err() {
            let _ = to.shutdown().await;
            return;
        }
    }
    let _ = tokio::io::copy(&mut from, &mut to).await;
    let _ = to.shutdown().await;
}

/// Read a response head (bounded), add `field`, write it and whatever came with it.
async fn add_to_head(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    field: &str,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match parse_response(&buf, DEFAULT_HEAD_LIMIT) {
                Ok(Scan::Complete { head_len, .. }) => return Some(head_len),
                Ok(Scan::NeedMore) => {}
                Err(_) => return None,
            }
            match from.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    match tokio::time::timeout(HEAD_WAIT, read).await.ok().flatten() {
        Some(head_len) => {
            to.write_all(&policy::add_field(&buf[..head_len], field))
                .await?;
            to.write_all(&buf[head_len..]).await
        }
        // Not an HTTP response: pass on what came, unchanged.
        None => to.write_all(&buf).await,
    }
}
