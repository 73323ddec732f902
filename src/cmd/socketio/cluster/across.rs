//! Broadcasts across nodes: six WebSocket clients spread over the nodes (A on n1, B on
//! n2, …), client A asks its node to `io.emit` and then to `io.local.emit`, and every
//! client reports which lines reached it.
//!
//! [`run`] takes the nodes' URLs and nothing else, so it runs the same against nodes that
//! share an adapter and nodes that do not. Without an adapter a node knows only its own
//! sockets: `io.emit` on n1 reaches n1's clients and nobody else, exactly as
//! `io.local.emit` does.

use super::node::LINE;
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::ws::WsConfig;
use crate::wire::application::socketio::Data;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::task::JoinSet;

/// How long every client listens after the sender's node acknowledged the emit. A line
/// that has not come by then is counted as not received.
pub const LISTEN: Duration = Duration::from_millis(500);

/// How long connecting and each acknowledgement may take.
const WAIT: Duration = Duration::from_secs(5);

/// What client A asks its node to run, in order.
pub const LINES: [&str; 2] = ["io.emit", "io.local.emit"];

/// One client: its name and the node it is connected to.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub name: String,
    pub node: String,
    /// Its socket id.
    pub socket: String,
}

/// One line's row: who received it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The JavaScript the node ran, on the sender's node.
    pub code: String,
    pub sender_node: String,
    pub received_by: Vec<String>,
}

/// The broadcasts' result.
#[derive(Debug, Clone, Serialize)]
pub struct Across {
    pub members: Vec<Member>,
    pub rows: Vec<Row>,
    pub listened_ms: u64,
}

struct Client {
    member: Member,
    sio: SioClient,
}

/// Connect six clients, client k to node k modulo the number of nodes, and run the lines.
pub async fn run(urls: &[String]) -> anyhow::Result<Across> {
    anyhow::ensure!(!urls.is_empty(), "no node to connect to");
    let mut clients = Vec::new();
    for (k, name) in ["A", "B", "C", "D", "E", "F"].into_iter().enumerate() {
        let (node, url) = (k % urls.len(), &urls[k % urls.len()]);
        clients.push(connect(url, name, &crate::net::balancer::node_name(node)).await?);
    }
    let mut rows = Vec::new();
    for (i, code) in LINES.iter().enumerate() {
        let sender = &mut clients[0];
        let asked = sender.sio.emit(code, vec![json!(i).into()], true).await?;
        let sender_got = await_ack(&mut sender.sio, asked, i).await?;
        let (back, heard) = listen(clients, i, sender_got).await?;
        clients = back;
        rows.push(Row {
            code: format!("{code}(\"{LINE}\", {i})"),
            sender_node: clients[0].member.node.clone(),
            received_by: heard,
        });
    }
    let mut members = Vec::new();
    for mut c in clients {
        let _ = c.sio.disconnect().await;
        members.push(c.member);
    }
    Ok(Across {
        members,
        rows,
        listened_ms: u64::try_from(LISTEN.as_millis()).unwrap_or(u64::MAX),
    })
}

/// `http://HOST:PORT` → host and port.
fn host_port(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .unwrap_or(url);
    let rest = rest.split('/').next().unwrap_or(rest);
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("{url} has no port"))?;
    Ok((host.trim_matches(['[', ']']).to_owned(), port.parse()?))
}

async fn connect(url: &str, name: &str, node: &str) -> anyhow::Result<Client> {
    let (host, port) = host_port(url)?;
    let auth = json!({ "name": name }).as_object().cloned();
    let mut sio = tokio::time::timeout(
        WAIT,
        SioClient::connect(&host, port, "/", auth, WsConfig::default()),
    )
    .await??;
    let mut socket = None;
    for _ in 0..crate::cmd::socketio::demo::READ_LIMIT {
        match tokio::time::timeout(WAIT, sio.next()).await?? {
            Heard::Connected { sid } => {
                socket = Some(sid);
                break;
            }
            Heard::Closed { reason } => anyhow::bail!("client {name}: {reason}"),
            _ => {}
        }
    }
    let socket = socket.ok_or_else(|| anyhow::anyhow!("client {name} was never let in"))?;
    let member = Member {
        name: name.to_owned(),
        node: node.to_owned(),
        socket,
    };
    Ok(Client { member, sio })
}

/// Wait for the acknowledgement of `asked`; whether line `i` arrived meanwhile (the
/// sender's node may send the line before the answer).
async fn await_ack(sio: &mut SioClient, asked: Option<u64>, i: usize) -> anyhow::Result<bool> {
    let mut got = false;
    for _ in 0..crate::cmd::socketio::demo::READ_LIMIT {
        match tokio::time::timeout(WAIT, sio.next()).await?? {
            Heard::Ack { id, .. } if Some(id) == asked => return Ok(got),
            Heard::Event { name, args, .. } => got |= is_line(&name, &args, i),
            _ => {}
        }
    }
    anyhow::bail!("the sender's node never acknowledged")
}

/// Is this event line `i`?
fn is_line(name: &str, args: &[Data], i: usize) -> bool {
    let n = args.first().and_then(Data::as_json).and_then(Value::as_u64);
    name == LINE && n == Some(i as u64)
}

/// Every client listens for [`LISTEN`] at once; the names of those that received line `i`
/// (the sender, client 0, may have received it already: `sender_got`).
async fn listen(
    clients: Vec<Client>,
    i: usize,
    sender_got: bool,
) -> anyhow::Result<(Vec<Client>, Vec<String>)> {
    let mut set = JoinSet::new();
    for (k, mut c) in clients.into_iter().enumerate() {
        set.spawn(async move {
            let mut got = k == 0 && sender_got;
            let deadline = tokio::time::Instant::now() + LISTEN;
            while let Ok(Ok(h)) = tokio::time::timeout_at(deadline, c.sio.next()).await {
                if let Heard::Event { name, args, .. } = h {
                    got |= is_line(&name, &args, i);
                }
            }
            (k, c, got)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        done.push(r?);
    }
    done.sort_by_key(|(k, _, _)| *k);
    let heard = done
        .iter()
        .filter(|(_, _, got)| *got)
        .map(|(_, c, _)| c.member.name.clone())
        .collect();
    Ok((done.into_iter().map(|(_, c, _)| c).collect(), heard))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_give_host_and_port() {
        assert_eq!(
            host_port("http://127.0.0.1:3001").expect("url"),
            ("127.0.0.1".to_owned(), 3001)
        );
        assert_eq!(
            host_port("http://[::1]:80/socket.io/").expect("url"),
            ("::1".to_owned(), 80)
        );
        assert!(host_port("http://localhost").is_err());
    }
}
