//! Sticky sessions, shown: clients reach the nodes through a balancer, and each one's
//! requests are recorded with what answered them.
//!
//! A long-polling client is written out by hand ([`polling_client`]) so every request is
//! visible: each goes on a TCP connection of its own (`Connection: close`), as requests
//! do when a browser has no idle connection to reuse. Under round robin the second
//! request lands on another node than the first, one that never saw the session:
//!
//! ```text
//!   GET  /socket.io/?EIO=4&transport=polling          → n1: 200 0{"sid":"AbC…",…}
//!   POST /socket.io/?EIO=4&transport=polling&sid=AbC… → n2: 400 {"code":1,"message":"Session ID unknown"}
//! ```
//!
//! A WebSocket client ([`websocket_client`]) makes one HTTP request, the upgrade, and
//! keeps that TCP connection: the balancer chose its node once, so any policy works.
//! Like a browser, the polling client keeps the cookies it is given and sends them back,
//! which is what a cookie-sticky balancer needs.

use crate::net::balancer::{Balancer, Policy};
use crate::net::http::{ByteCount, HttpConn};
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::socketio::PATH;
use crate::net::ws::WsConfig;
use crate::wire::application::engineio::{decode_payload, OpenInfo, PayloadLimits};
use serde::Serialize;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long any one request (or a WebSocket client's wait) may take.
const LIMIT: Duration = Duration::from_secs(5);

/// One HTTP request of the polling client and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub method: &'static str,
    /// What the request carries or asks for.
    pub purpose: &'static str,
    pub status: u16,
    /// The answer's body, as text.
    pub body: String,
}

/// What became of one client.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub client: String,
    /// `polling` or `websocket`.
    pub transport: &'static str,
    /// The address its connections came from.
    pub from: String,
    /// It joined `/` and its acknowledged `where` came back.
    pub ok: bool,
    /// The node that answered `where`.
    pub node: Option<String>,
    /// The polling client's requests, in order (the last one failed when `ok` is false).
    pub requests: Vec<Request>,
    /// What went wrong, in a sentence.
    pub failure: Option<String>,
}

/// A connection to the balancer, from `from` when given (any 127.x.y.z is this machine on
/// Linux, so clients on loopback can have addresses of their own).
async fn connect(front: SocketAddr, from: Option<IpAddr>) -> std::io::Result<HttpConn> {
    let socket = match front {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Some(ip) = from {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = tokio::time::timeout(LIMIT, socket.connect(front))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting"))??;
    Ok(HttpConn::new(stream, Arc::new(ByteCount::default())))
}

/// The hand-written polling client's state: where it sends, from where, its cookies.
struct Poller {
    front: SocketAddr,
    from: Option<IpAddr>,
    /// `name=value` pairs from `Set-Cookie`, sent back in `Cookie`.
    cookies: Vec<String>,
    requests: Vec<Request>,
}

impl Poller {
    /// One request on a connection of its own; its answer, recorded.
    async fn send(
        &mut self,
        method: &'static str,
        purpose: &'static str,
        target: &str,
        body: &str,
    ) -> anyhow::Result<Request> {
        let mut conn = connect(self.front, self.from).await?;
        let cookie = if self.cookies.is_empty() {
            String::new()
        } else {
            format!("Cookie: {}\r\n", self.cookies.join("; "))
        };
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
             Content-Length: {}\r\n{cookie}Connection: close\r\n\r\n{body}",
            self.front,
            body.len()
        );
        conn.write_all(head.as_bytes()).await?;
        let r = conn.read_response(LIMIT).await?;
        for set in r.head.headers.get_all("set-cookie") {
            let pair = set.split(';').next().unwrap_or_default().trim();
            let name = pair.split('=').next().unwrap_or_default();
            self.cookies.retain(|c| c.split('=').next() != Some(name));
            self.cookies.push(pair.to_owned());
        }
        let request = Request {
            method,
            purpose,
            status: r.head.status,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        };
        self.requests.push(request.clone());
        Ok(request)
    }
}

/// The Engine.IO packets of a polling answer, as text.
fn packets(body: &str) -> Vec<String> {
    decode_payload(body.as_bytes(), PayloadLimits::default())
        .map(|ps| ps.iter().map(|p| p.to_text()).collect())
        .unwrap_or_default()
}

/// A long-polling client through `front`: the handshake, CONNECT to `/`, and
/// `where` with an acknowledgement, each request on its own TCP connection.
pub async fn polling_client(front: SocketAddr, from: Option<IpAddr>, name: &str) -> Outcome {
    let mut p = Poller {
        front,
        from,
        cookies: Vec::new(),
        requests: Vec::new(),
    };
    let walked = walk(&mut p).await;
    let (ok, node, failure) = match walked {
        Ok(node) => (node.is_some(), node, None),
        Err(e) => (false, None, Some(format!("{e:#}"))),
    };
    Outcome {
        client: name.to_owned(),
        transport: "polling",
        from: from.map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string()),
        ok,
        node,
        requests: p.requests,
        failure,
    }
}

/// The polling client's requests; the node that answered `where`.
async fn walk(p: &mut Poller) -> anyhow::Result<Option<String>> {
    let open = format!("{PATH}?EIO=4&transport=polling");
    let r = p.send("GET", "handshake", &open, "").await?;
    refused(&r)?;
    let json = r.body.strip_prefix('0').unwrap_or_default();
    let sid = OpenInfo::from_json(json)?.sid;
    let target = format!("{PATH}?EIO=4&transport=polling&sid={sid}");
    refused(&p.send("POST", "CONNECT to /: 40", &target, "40").await?)?;
    refused(&p.send("GET", "the CONNECT answer", &target, "").await?)?;
    refused(
        &p.send("POST", "where, with ack 1", &target, r#"421["where"]"#)
            .await?,
    )?;
    let r = p.send("GET", "the ack", &target, "").await?;
    refused(&r)?;
    let node = packets(&r.body)
        .iter()
        .find_map(|t| t.strip_prefix("431"))
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v[0]["node"].as_str().map(str::to_owned));
    Ok(node)
}

fn refused(r: &Request) -> anyhow::Result<()> {
    if r.status == 200 {
        return Ok(());
    }
    anyhow::bail!(
        "{} ({}) answered {}: {}",
        r.method,
        r.purpose,
        r.status,
        r.body
    )
}

/// A WebSocket-only client (netlab's `SioClient`) through `front`: join `/`, ask `where`.
pub async fn websocket_client(front: SocketAddr, name: &str) -> Outcome {
    let asked = tokio::time::timeout(LIMIT, ask_where(front, name)).await;
    let (ok, node, failure) = match asked {
        Ok(Ok(node)) => (true, Some(node), None),
        Ok(Err(e)) => (false, None, Some(format!("{e:#}"))),
        Err(_) => (false, None, Some("no answer within 5 s".to_owned())),
    };
    Outcome {
        client: name.to_owned(),
        transport: "websocket",
        from: "127.0.0.1".to_owned(),
        ok,
        node,
        requests: Vec::new(),
        failure,
    }
}

async fn ask_where(front: SocketAddr, name: &str) -> anyhow::Result<String> {
    let auth = json!({ "name": name }).as_object().cloned();
    let host = front.ip().to_string();
    let mut sio = SioClient::connect(&host, front.port(), "/", auth, WsConfig::default()).await?;
    let mut asked = None;
    for _ in 0..crate::cmd::socketio::demo::READ_LIMIT {
        match sio.next().await? {
            Heard::Connected { .. } => asked = sio.emit("where", Vec::new(), true).await?,
            Heard::Ack { id, args } if Some(id) == asked => {
                let node = args
                    .first()
                    .and_then(|a| a.as_json())
                    .and_then(|v| v["node"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let _ = sio.disconnect().await;
                return Ok(node);
            }
            Heard::Closed { reason } => anyhow::bail!("the connection closed: {reason}"),
            Heard::ConnectError { payload } => anyhow::bail!("refused: {payload}"),
            _ => {}
        }
    }
    anyhow::bail!("no answer to `where`")
}

/// The clients of one trial: name, transport (`true`: polling), and the source address
/// of a polling client (127.0.0.2, …: distinct addresses on loopback).
pub const CLIENTS: [(&str, bool); 6] = [
    ("A", true),
    ("B", true),
    ("C", true),
    ("D", true),
    ("E", false),
    ("F", false),
];

/// The source address of polling client number `k`: 127.0.0.(k + 2).
pub fn source_of(k: usize) -> IpAddr {
    IpAddr::from([127, 0, 0, u8::try_from(k + 2).unwrap_or(2)])
}

/// One balancer and the six clients through it.
#[derive(Debug, Clone, Serialize)]
pub struct Trial {
    /// Which balancer: `netlab` or `haproxy`.
    pub balancer: String,
    pub policy: Policy,
    pub clients: Vec<Outcome>,
    /// Connections the balancer sent to each node (netlab's balancer counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections_per_node: Option<Vec<u64>>,
}

impl Trial {
    /// How many polling clients got through, out of how many.
    pub fn polling_ok(&self) -> (usize, usize) {
        count(&self.clients, "polling")
    }

    pub fn websocket_ok(&self) -> (usize, usize) {
        count(&self.clients, "websocket")
    }
}

fn count(clients: &[Outcome], transport: &str) -> (usize, usize) {
    let of: Vec<&Outcome> = clients
        .iter()
        .filter(|c| c.transport == transport)
        .collect();
    (of.iter().filter(|c| c.ok).count(), of.len())
}

/// Run the six clients, one after the other, through the balancer at `front`.
pub async fn clients_through(front: SocketAddr) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (k, (name, polling)) in CLIENTS.iter().enumerate() {
        let o = if *polling {
            polling_client(front, Some(source_of(k)), name).await
        } else {
            websocket_client(front, name).await
        };
        out.push(o);
    }
    out
}

/// netlab's balancer with `policy` in front of `nodes`, and the six clients through it.
pub async fn netlab_trial(nodes: &[SocketAddr], policy: Policy) -> anyhow::Result<Trial> {
    let balancer = Balancer::bind("127.0.0.1:0".parse()?, nodes.to_vec(), policy).await?;
    let front = balancer.local_addr();
    let counters = balancer.counters();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(balancer.serve(async move {
        let _ = stopped.await;
    }));
    let clients = clients_through(front).await;
    let _ = stop.send(());
    let _ = task.await;
    Ok(Trial {
        balancer: "netlab".to_owned(),
        policy,
        clients,
        connections_per_node: Some(counters.per_node()),
    })
}
