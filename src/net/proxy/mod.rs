//! A TCP relay that breaks connections on purpose: one upstream connection per accepted
//! client, bytes copied both ways through a fault [`schedule`] (cut with FIN or RST,
//! black-holed then released or dropped, delayed, throttled).
//!
//! ```text
//!   client ──TCP──► Proxy (127.0.0.1:P) ──TCP──► upstream HOST:PORT
//!                     │ one task per connection: reads both sockets, queues each chunk
//!                     │ with the time it may be written, writes when due, cuts on cue
//!                     ▲
//!               ProxyHandle: cut now, partition now, heal (for experiments)
//! ```
//!
//! The schedule decides (pure code, [`schedule`]); this module only moves bytes. Every
//! socket is a real one, so the peers see what a real network failure does to them: a
//! FIN is an end of stream, a RST an `ECONNRESET`, a black hole silence.

mod conn;
pub mod schedule;

use crate::net::tcp::{self, SockOpts};
use schedule::{CutWith, Dir, Drawn, FaultScript, Then};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// How long the proxy waits for the upstream to accept a connection.
pub const CONNECT_LIMIT: Duration = Duration::from_secs(3);

/// What can stop the proxy from starting.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What a connection went through, for the live view.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProxyEvent {
    Accepted {
        conn: u64,
        client: String,
        upstream: String,
        #[serde(flatten)]
        drawn: Drawn,
    },
    /// The upstream could not be reached: the client's connection is closed.
    UpstreamFailed { conn: u64, error: String },
    /// A fault took effect.
    Fault {
        conn: u64,
        at_ms: u64,
        fault: Applied,
    },
    Closed {
        conn: u64,
        /// Client to server, then server to client.
        up_bytes: u64,
        down_bytes: u64,
        /// Bytes read but never written (dropped by a black hole or a cut).
        lost_bytes: u64,
        how: Ending,
        after_ms: u64,
    },
}

/// A fault as it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Applied {
    Cut { with: CutWith, after_bytes: u64 },
    BlackholeStarts,
    BlackholeEnds { then: Then, held_bytes: u64 },
    Partitioned,
    Healed { then: Then, held_bytes: u64 },
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Both peers closed (FIN each way).
    Closed,
    /// The proxy cut it.
    Cut(CutWith),
    /// A peer reset it or a socket failed.
    Reset,
    /// The proxy stopped.
    Stopped,
}

/// What the proxy has done so far, read at any time through the [`ProxyHandle`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub connections: u64,
    pub upstream_failures: u64,
    pub up_bytes: u64,
    pub down_bytes: u64,
    /// Reads at the proxy, each way: with Nagle's algorithm off at the peers, about one
    /// TCP segment each.
    pub up_reads: u64,
    pub down_reads: u64,
    pub cuts: u64,
    pub lost_bytes: u64,
}

#[derive(Debug, Default)]
struct Shared {
    connections: AtomicU64,
    upstream_failures: AtomicU64,
    bytes: [AtomicU64; 2],
    reads: [AtomicU64; 2],
    cuts: AtomicU64,
    lost: AtomicU64,
}

impl Shared {
    fn add(&self, dir: Dir, bytes: usize) {
        let i = usize::from(dir == Dir::Down);
        self.bytes[i].fetch_add(bytes as u64, Ordering::Relaxed);
        self.reads[i].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Counters {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counters {
            connections: get(&self.connections),
            upstream_failures: get(&self.upstream_failures),
            up_bytes: get(&self.bytes[0]),
            down_bytes: get(&self.bytes[1]),
            up_reads: get(&self.reads[0]),
            down_reads: get(&self.reads[1]),
            cuts: get(&self.cuts),
            lost_bytes: get(&self.lost),
        }
    }
}

/// Faults asked for at run time, seen by every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Control {
    /// Each `cut_now` adds one; a connection cuts when it sees a number above its own.
    cut_epoch: u64,
    cut_with: CutWith,
    partitioned: bool,
    heal_then: Then,
    /// Each heal adds one, so that a connection that missed the partition's start (it
    /// began during it) still drops its bytes at the heal.
    heal_epoch: u64,
}

/// Changes faults while the proxy runs.
#[derive(Debug, Clone)]
pub struct ProxyHandle {
    control: Arc<watch::Sender<Control>>,
    shared: Arc<Shared>,
}

impl ProxyHandle {
    /// Cut every open connection now.
    pub fn cut_now(&self, with: CutWith) {
        self.control.send_modify(|c| {
            c.cut_epoch += 1;
            c.cut_with = with;
        });
    }

    /// Stop writing anything either way on every connection, new ones included.
    pub fn partition(&self) {
        self.control.send_modify(|c| c.partitioned = true);
    }

    /// End the partition: deliver what was held, or drop it and cut those connections.
    pub fn heal(&self, then: Then) {
        self.control.send_modify(|c| {
            c.partitioned = false;
            c.heal_then = then;
            c.heal_epoch += 1;
        });
    }

    pub fn counters(&self) -> Counters {
        self.shared.snapshot()
    }
}

/// A bound proxy, ready to [`Proxy::run`].
pub struct Proxy {
    listener: TcpListener,
    upstream: SocketAddr,
    script: FaultScript,
    seed: u64,
    handle: ProxyHandle,
}

impl Proxy {
    /// Listen on `listen` (port 0: the kernel chooses) for clients of `upstream`.
    pub fn bind(
        listen: SocketAddr,
        upstream: SocketAddr,
        script: FaultScript,
        seed: u64,
    ) -> Result<Proxy, ProxyError> {
        let listener =
            tcp::listen(listen, &SockOpts::default()).map_err(|source| ProxyError::Listen {
                addr: listen,
                source,
            })?;
        let control = Control {
            cut_epoch: 0,
            cut_with: CutWith::Rst,
            partitioned: false,
            heal_then: Then::Release,
            heal_epoch: 0,
        };
        Ok(Proxy {
            listener,
            upstream,
            script,
            seed,
            handle: ProxyHandle {
                control: Arc::new(watch::channel(control).0),
                shared: Arc::new(Shared::default()),
            },
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    pub fn handle(&self) -> ProxyHandle {
        self.handle.clone()
    }

    /// Relay until `stop` completes, or `connections` connections have ended; `on_event`
    /// hears every connection event. Returns the counters.
    pub async fn run(
        self,
        stop: impl std::future::Future<Output = ()>,
        connections: Option<u64>,
        mut on_event: impl FnMut(ProxyEvent),
    ) -> Counters {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let mut ended = 0u64;
        let mut n = 0u64;
        tokio::pin!(stop);
        loop {
            if connections.is_some_and(|c| ended >= c) {
                break;
            }
            tokio::select! {
                accepted = self.listener.accept() => {
                    let Ok((client, peer)) = accepted else {
                        // Out of file descriptors, say: wait a little rather than spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    n += 1;
                    let job = conn::Job {
                        n,
                        peer,
                        upstream: self.upstream,
                        schedule: schedule::Schedule::new(self.script, self.seed, n),
                        control: self.handle.control.subscribe(),
                        stop: stop_rx.clone(),
                        shared: self.handle.shared.clone(),
                        events: tx.clone(),
                    };
                    self.handle.shared.connections.fetch_add(1, Ordering::Relaxed);
                    tasks.spawn(conn::relay(client, job));
                }
                Some(event) = rx.recv() => {
                    if matches!(event, ProxyEvent::Closed { .. } | ProxyEvent::UpstreamFailed { .. }) {
                        ended += 1;
                    }
                    on_event(event);
                }
                () = &mut stop => break,
            }
            while tasks.try_join_next().is_some() {}
        }
        let _ = stop_tx.send(true);
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        while let Ok(event) = rx.try_recv() {
            on_event(event);
        }
        self.handle.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_handle_counts_cuts_and_heals() {
        let p = Proxy::bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:9".parse().unwrap(),
            FaultScript::default(),
            1,
        )
        .unwrap();
        let h = p.handle();
        h.cut_now(CutWith::Fin);
        h.partition();
        h.heal(Then::Drop);
        let c = *h.control.borrow();
        assert_eq!((c.cut_epoch, c.heal_epoch, c.partitioned), (1, 1, false));
        assert_eq!((c.cut_with, c.heal_then), (CutWith::Fin, Then::Drop));
    }
}
