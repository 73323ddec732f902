//! The course's emit cheatsheet across nodes: the six clients of `netlab socketio demo`
//! (five in `/`, in rooms, one in `/admin`), spread over the nodes (A on n1, B on n2, …),
//! client A asks its node to run each line, and every client reports whether the line
//! reached it.
//!
//! [`run`] takes the nodes' URLs and nothing else, so it runs the same against nodes that
//! share an adapter and nodes that do not. On one node the lines' order keeps the
//! clients' reads apart; across nodes a line travels through Redis, so every client
//! listens for [`LISTEN`] after the sender's node acknowledged, and what has not come by
//! then counts as not received.

use super::node::{ACK_TIMEOUT, LINE};
use crate::cmd::socketio::demo::cheatsheet::{Op, LINES, MEMBERS};
use crate::cmd::socketio::demo::READ_LIMIT;
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::ws::WsConfig;
use crate::wire::application::socketio::Data;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::task::JoinSet;

/// How long every client listens after the sender's node acknowledged a line.
pub const LISTEN: Duration = Duration::from_millis(400);

/// How long connecting and each acknowledgement may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// The cheatsheet's lines, and whether each asks for acknowledgements (its answers may
/// take up to the emit's timeout: every client listens that much longer).
pub fn lines() -> impl Iterator<Item = (usize, &'static str, bool)> {
    LINES.iter().enumerate().map(|(i, l)| {
        let ack = matches!(l.op, Op::SocketTimeout | Op::IoTimeout);
        (i, l.code, ack)
    })
}

/// One client: its name, namespace, rooms and the node it is connected to.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub name: String,
    pub namespace: String,
    pub rooms: Vec<String>,
    pub node: String,
    /// Its socket id.
    pub socket: String,
}

/// One line's row: who received it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The index of the line in the cheatsheet.
    pub line: usize,
    /// The JavaScript the sender's node ran.
    pub code: String,
    pub sender_node: String,
    pub received_by: Vec<String>,
    /// For an emit with ack: whose answers reached the sender's node, as it told A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<Vec<String>>,
}

/// The cheatsheet's result across nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Across {
    pub members: Vec<Member>,
    pub rows: Vec<Row>,
    pub listened_ms: u64,
    /// How long they listen after an emit with ack.
    pub ack_listened_ms: u64,
}

/// A connected client.
pub struct Client {
    pub member: Member,
    pub sio: SioClient,
}

/// Connect the six clients, client k to node k modulo the number of nodes, and run the
/// lines.
pub async fn run(urls: &[String]) -> anyhow::Result<Across> {
    anyhow::ensure!(!urls.is_empty(), "no node to connect to");
    let mut clients = Vec::new();
    for (k, (name, namespace, rooms)) in MEMBERS.into_iter().enumerate() {
        let node = crate::net::balancer::node_name(k % urls.len());
        let c = connect(&urls[k % urls.len()], name, namespace, &node, json!({})).await?;
        clients.push(join(c, rooms).await?);
    }
    let b = clients[1].member.socket.clone();
    let mut rows = Vec::new();
    for (i, code, ack) in lines() {
        let sender = &mut clients[0];
        let asked = sender
            .sio
            .emit("line", vec![json!(i).into(), json!(b).into()], true)
            .await?;
        let sender_got = await_ack(sender, asked, LINE, i).await?;
        let time = if ack { LISTEN + ACK_TIMEOUT } else { LISTEN };
        let (back, heard, answers) = listen(clients, i, sender_got, time).await?;
        clients = back;
        rows.push(Row {
            line: i,
            code: code.to_owned(),
            sender_node: clients[0].member.node.clone(),
            received_by: heard,
            answers,
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
        listened_ms: ms(LISTEN),
        ack_listened_ms: ms(LISTEN + ACK_TIMEOUT),
    })
}

pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `http://HOST:PORT` → host and port.
pub fn host_port(url: &str) -> anyhow::Result<(String, u16)> {
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

/// Connect client `name` to the namespace on node `node` (at `url`), with `auth` besides
/// its name, and wait until it is let in.
pub async fn connect(
    url: &str,
    name: &str,
    namespace: &str,
    node: &str,
    auth: Value,
) -> anyhow::Result<Client> {
    let (host, port) = host_port(url)?;
    let mut auth = auth.as_object().cloned().unwrap_or_default();
    auth.insert("name".into(), json!(name));
    let mut sio = tokio::time::timeout(
        WAIT,
        SioClient::connect(&host, port, namespace, Some(auth), WsConfig::default()),
    )
    .await??;
    let mut socket = None;
    for _ in 0..READ_LIMIT {
        match tokio::time::timeout(WAIT, sio.next()).await?? {
            Heard::Connected { sid } => {
                socket = Some(sid);
                break;
            }
            Heard::Closed { reason } => anyhow::bail!("client {name}: {reason}"),
            Heard::ConnectError { payload } => anyhow::bail!("client {name}: {payload}"),
            _ => {}
        }
    }
    let socket = socket.ok_or_else(|| anyhow::anyhow!("client {name} was never let in"))?;
    let member = Member {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        rooms: Vec::new(),
        node: node.to_owned(),
        socket,
    };
    Ok(Client { member, sio })
}

/// The client joins `rooms`, one acknowledged request each.
async fn join(mut c: Client, rooms: &[&str]) -> anyhow::Result<Client> {
    for room in rooms {
        let asked = c.sio.emit("join", vec![json!(room).into()], true).await?;
        await_ack(&mut c, asked, LINE, usize::MAX).await?;
        c.member.rooms.push((*room).to_owned());
    }
    Ok(c)
}

/// Wait for the acknowledgement of `asked`; whether event `event` number `i` arrived
/// meanwhile (the sender's node may send it before the answer). An event that asks for
/// an acknowledgement meanwhile is answered with the client's name.
pub async fn await_ack(
    c: &mut Client,
    asked: Option<u64>,
    event: &str,
    i: usize,
) -> anyhow::Result<bool> {
    let mut got = false;
    for _ in 0..READ_LIMIT {
        match tokio::time::timeout(WAIT, c.sio.next()).await?? {
            Heard::Ack { id, .. } if Some(id) == asked => return Ok(got),
            Heard::Event { name, args, ack } => {
                if let Some(id) = ack {
                    c.sio.ack(id, vec![json!(c.member.name).into()]).await?;
                }
                got |= numbered(&name, &args, event) == Some(i);
            }
            _ => {}
        }
    }
    anyhow::bail!("the node never acknowledged")
}

/// The number an event `event` carries as its first argument.
pub fn numbered(name: &str, args: &[Data], event: &str) -> Option<usize> {
    let n = args
        .first()
        .and_then(Data::as_json)
        .and_then(Value::as_u64)?;
    (name == event).then(|| usize::try_from(n).ok()).flatten()
}

/// What one client heard while listening: line `i`, and (the sender) the answers.
struct Listened {
    got: bool,
    answers: Option<Vec<String>>,
}

/// Every client listens for `time` at once, answering any acknowledgement asked with its
/// name; the names of those that received line `i` (the sender, client 0, may have
/// received it already: `sender_got`), and the answers the sender was told of.
async fn listen(
    clients: Vec<Client>,
    i: usize,
    sender_got: bool,
    time: Duration,
) -> anyhow::Result<(Vec<Client>, Vec<String>, Option<Vec<String>>)> {
    let mut set = JoinSet::new();
    for (k, mut c) in clients.into_iter().enumerate() {
        set.spawn(async move {
            let mut heard = Listened {
                got: k == 0 && sender_got,
                answers: None,
            };
            let deadline = tokio::time::Instant::now() + time;
            while let Ok(Ok(h)) = tokio::time::timeout_at(deadline, c.sio.next()).await {
                let Heard::Event { name, args, ack } = h else {
                    continue;
                };
                if let Some(id) = ack {
                    let _ = c.sio.ack(id, vec![json!(c.member.name).into()]).await;
                }
                heard.got |= numbered(&name, &args, LINE) == Some(i);
                if name == "answers" {
                    heard.answers = answers_of(&args, i).or(heard.answers);
                }
            }
            (k, c, heard)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        done.push(r?);
    }
    done.sort_by_key(|(k, _, _)| *k);
    let got = done
        .iter()
        .filter(|(_, _, h)| h.got)
        .map(|(_, c, _)| c.member.name.clone())
        .collect();
    let answers = done.first().and_then(|(_, _, h)| h.answers.clone());
    Ok((done.into_iter().map(|(_, c, _)| c).collect(), got, answers))
}

/// The names in an `answers` event for line `i`.
fn answers_of(args: &[Data], i: usize) -> Option<Vec<String>> {
    let v = args.first().and_then(Data::as_json)?;
    if v["line"].as_u64() != Some(i as u64) {
        return None;
    }
    serde_json::from_value(v["answers"].clone()).ok()
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

    #[test]
    fn the_lines_with_a_timeout_are_the_ones_that_wait_for_answers() {
        for (_, code, ack) in lines() {
            assert_eq!(code.contains(".timeout("), ack, "{code}");
        }
        assert_eq!(lines().count(), LINES.len());
    }
}
