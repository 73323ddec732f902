//! One node of the cluster: a netlab Socket.IO server on loopback with the cluster's
//! application, which says which node a client reached and emits as the client asks.
//!
//! Events the application answers (each acknowledged when asked):
//! - `where` → `{"node": "n1", "socket": ID}`: the node that holds this socket;
//! - `io.emit` ARG → `io.emit("line", ARG)` on this node, then the acknowledgement;
//! - `io.local.emit` ARG → the same as `io.local.emit`: to this node's clients only.
//!
//! Without an adapter a node knows only its own sockets, so `io.emit` and `io.local.emit`
//! do the same thing here: that is what the cluster command shows.

use crate::error::HintExt;
use crate::net::socketio::{self, App};
use crate::wire::application::socketio::{AppEvent, Options, Server};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

/// The event every broadcast of the cluster's lines carries.
pub const LINE: &str = "line";

/// A running node; [`Node::stop`] shuts it down (every session closes).
pub struct Node {
    /// `n1`, `n2`, …
    pub name: String,
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Start node `name` on 127.0.0.1, a port the kernel chooses.
    pub async fn start(name: &str) -> anyhow::Result<Node> {
        let engine = socketio::bind("127.0.0.1:0".parse()?, socketio::engine_config())
            .await
            .failed("could not listen on 127.0.0.1")?;
        let addr = engine.local_addr();
        let io = socketio::machine(Options::default());
        let app = ClusterApp {
            name: name.to_owned(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(socketio::serve(engine, io, app, shutdown));
        Ok(Node {
            name: name.to_owned(),
            addr,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shut it down and wait (at most 5 s) for it to end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Start `count` nodes, `n1` to `nCOUNT`.
pub async fn start_nodes(count: usize) -> anyhow::Result<Vec<Node>> {
    let mut nodes = Vec::with_capacity(count);
    for i in 0..count {
        nodes.push(Node::start(&crate::net::balancer::node_name(i)).await?);
    }
    Ok(nodes)
}

/// The cluster's application on one node.
struct ClusterApp {
    name: String,
}

impl App for ClusterApp {
    fn event(&mut self, io: &mut Server, event: AppEvent) {
        let AppEvent::Event {
            namespace,
            socket,
            name,
            args,
            ack,
        } = event
        else {
            return;
        };
        let answer = match name.as_str() {
            "where" => vec![json!({"node": self.name, "socket": socket}).into()],
            // One node without an adapter: its own sockets are all the sockets it knows,
            // so `io.emit` reaches exactly what `io.local.emit` reaches.
            "io.emit" | "io.local.emit" => {
                let _ = io.of(&namespace).emit(LINE, args.clone());
                vec![json!({"node": self.name}).into()]
            }
            _ => args,
        };
        if let Some(id) = ack {
            let _ = io.ack(&namespace, &socket, id, answer);
        }
    }
}
