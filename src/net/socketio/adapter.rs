//! The Redis adapter's connection: the Socket.IO machine's [`AdapterOutput`]s go to Redis,
//! what other nodes publish comes back to the machine.
//!
//! ```text
//!   machine task ──AdapterOutput──► adapter task ──PUBLISH, PUBSUB NUMSUB──► Redis (one connection)
//!        ▲                               │
//!        └──── messages, counts, ◄───────┴──◄── PSUBSCRIBE socket.io#/#*, SUBSCRIBE
//!              up / down                          socket.io-request#/#, -response#/#
//!                                                 (a second connection: once subscribed, a
//!                                                  Redis connection only receives)
//! ```
//!
//! Redis speaks RESP ([`crate::wire::application::redis`]), the same codec netlab's
//! capture uses to show Redis traffic.
//!
//! When Redis goes away, the node keeps serving its own clients: what it would publish
//! meanwhile is dropped (and counted), and an emit with ack counts this node alone. The
//! task reports [`AdapterEvent::Lost`], tries again (after 250 ms, then doubling up to
//! 2 s), and reports [`AdapterEvent::Connected`] once subscribed again. What other nodes
//! published while it was away is lost: Redis Pub/Sub keeps nothing.

use super::App;
use crate::wire::application::redis::{command, Frame, Limits, PubSub};
use crate::wire::application::socketio::server::{AdapterOutput, Subscriptions};
use crate::wire::application::socketio::Server;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// How many outputs may wait for the adapter task (past it they are dropped, counted).
const QUEUE: usize = 4096;
/// How long a connection to Redis may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(2);
/// The most replies a publishing connection may owe before it counts as stuck.
const MAX_PENDING: usize = 16 * 1024;

/// Where Redis is: `redis://HOST:PORT` (port 6379 when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisUrl {
    pub host: String,
    pub port: u16,
}

/// What is wrong with a Redis URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("a Redis URL starts with redis://")]
    Scheme,
    #[error("no host after redis://")]
    NoHost,
    #[error("the port {0:?} is not a number from 1 to 65535")]
    BadPort(String),
    #[error("a user or password in the URL: netlab's adapter does not log in (AUTH)")]
    Credentials,
}

impl std::str::FromStr for RedisUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<RedisUrl, UrlError> {
        let rest = s.strip_prefix("redis://").ok_or(UrlError::Scheme)?;
        // The database number (`/0`) does not matter to Pub/Sub.
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => {
                let port = p.parse().map_err(|_| UrlError::BadPort(p.to_owned()))?;
                if port == 0 {
                    return Err(UrlError::BadPort(p.to_owned()));
                }
                (h, port)
            }
            None => (authority, 6379),
        };
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        Ok(RedisUrl {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}:{}", self.host, self.port)
    }
}

/// What the adapter's connection did, for the application to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterEvent {
    /// Subscribed: this node hears the others, and they hear it. `connection` counts
    /// from 1 (2 and on: back after a loss); `dropped`: the messages for the other nodes
    /// this node dropped while Redis was away.
    Connected {
        url: String,
        connection: u64,
        dropped: u64,
    },
    /// Redis went away, or could not be reached (`connections`: how many times it had
    /// been); the node serves its own clients alone until it is back. Reported once per
    /// outage.
    Lost { error: String, connections: u64 },
    /// A message from another node that netlab could not read (skipped).
    Unreadable { channel: String, error: String },
}

/// What the adapter task tells the machine task.
#[derive(Debug)]
pub enum FromRedis {
    Message { channel: String, payload: Vec<u8> },
    ServerCount { request_id: String, count: u64 },
    Event(AdapterEvent),
}

/// The machine task's end of the adapter.
#[derive(Debug)]
pub struct Link {
    outputs: mpsc::Sender<AdapterOutput>,
    inputs: mpsc::Receiver<FromRedis>,
    /// Outputs the adapter task could not take (its queue was full).
    pub dropped: u64,
}

impl Link {
    /// Start the adapter task for `subs`.
    pub fn start(url: RedisUrl, subs: Subscriptions) -> Link {
        let (outputs, out_rx) = mpsc::channel(QUEUE);
        let (in_tx, inputs) = mpsc::channel(QUEUE);
        tokio::spawn(run(url, subs, out_rx, in_tx));
        Link {
            outputs,
            inputs,
            dropped: 0,
        }
    }

    /// The next report from the adapter task (never, once it has ended).
    pub async fn recv(&mut self) -> FromRedis {
        match self.inputs.recv().await {
            Some(report) => report,
            None => std::future::pending().await,
        }
    }

    /// Hand over an output without waiting. A full queue drops a message (counted); a
    /// count is answered at once with this node alone, so that no emit waits for it.
    pub fn send(&mut self, out: AdapterOutput) -> Option<FromRedis> {
        match self.outputs.try_send(out) {
            Ok(()) => None,
            Err(e) => {
                self.dropped += 1;
                match e.into_inner() {
                    AdapterOutput::CountServers { request_id, .. } => {
                        Some(FromRedis::ServerCount {
                            request_id,
                            count: 1,
                        })
                    }
                    AdapterOutput::Publish { .. } => None,
                }
            }
        }
    }
}

/// What the adapter task keeps across its connections.
#[derive(Debug, Default)]
struct Spells {
    /// Connections made so far (subscribed).
    connections: u64,
    /// Messages for the other nodes dropped since Redis was lost.
    dropped: u64,
    /// Has the loss been reported (once per outage)?
    lost: bool,
    /// Replies the publishing connection owes, in order.
    owed: VecDeque<Owed>,
}

/// The adapter task: connect, serve, and connect again, until the machine task is gone.
async fn run(
    url: RedisUrl,
    subs: Subscriptions,
    mut outputs: mpsc::Receiver<AdapterOutput>,
    inputs: mpsc::Sender<FromRedis>,
) {
    let mut spells = Spells::default();
    let mut retry = FIRST_RETRY;
    loop {
        let error = match connected(&url, &subs, &mut outputs, &inputs, &mut spells).await {
            Ok(Ended::MachineGone) => return,
            Ok(Ended::Served) => "Redis closed the connection".to_owned(),
            Err(e) => e.to_string(),
        };
        // Counts Redis will never give now: this node alone.
        while let Some(owed) = spells.owed.pop_front() {
            if let Owed::Count(request_id) = owed {
                let count = FromRedis::ServerCount {
                    request_id,
                    count: 1,
                };
                if inputs.send(count).await.is_err() {
                    return;
                }
            }
        }
        if !spells.lost {
            spells.lost = true;
            retry = FIRST_RETRY;
            let lost = AdapterEvent::Lost {
                error,
                connections: spells.connections,
            };
            if inputs.send(FromRedis::Event(lost)).await.is_err() {
                return;
            }
        }
        if !away(retry, &mut outputs, &inputs, &mut spells.dropped).await {
            return;
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// Wait `retry` before the next attempt, dropping what would be published and answering
/// counts with this node alone; `false` when the machine task is gone.
async fn away(
    retry: Duration,
    outputs: &mut mpsc::Receiver<AdapterOutput>,
    inputs: &mpsc::Sender<FromRedis>,
    dropped: &mut u64,
) -> bool {
    let wait = tokio::time::sleep(retry);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            () = &mut wait => return true,
            out = outputs.recv() => match out {
                None => return false,
                Some(AdapterOutput::Publish { .. }) => *dropped += 1,
                Some(AdapterOutput::CountServers { request_id, .. }) => {
                    let count = FromRedis::ServerCount { request_id, count: 1 };
                    if inputs.send(count).await.is_err() {
                        return false;
                    }
                }
            },
        }
    }
}

/// How a connected spell ended without an I/O error.
enum Ended {
    MachineGone,
    Served,
}

/// One Redis connection with its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(url: &RedisUrl) -> std::io::Result<Conn> {
        let connect = TcpStream::connect((url.host.as_str(), url.port));
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 2 s")
            })??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// The next frame: from the buffer, or after reading more. `Ok(None)`: Redis closed.
    async fn frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            match Frame::parse(&self.buf, &Limits::default()) {
                Ok(Some((frame, used))) => {
                    self.buf.drain(..used);
                    return Ok(Some(frame));
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// What the publishing connection owes a reply for.
#[derive(Debug)]
enum Owed {
    Publish,
    Count(String),
}

async fn connected(
    url: &RedisUrl,
    subs: &Subscriptions,
    outputs: &mut mpsc::Receiver<AdapterOutput>,
    inputs: &mpsc::Sender<FromRedis>,
    spells: &mut Spells,
) -> std::io::Result<Ended> {
    let mut sub = Conn::open(url).await?;
    let mut publisher = Conn::open(url).await?;
    let mut request = Vec::new();
    for p in &subs.patterns {
        request.extend(command(&[b"PSUBSCRIBE", p.as_bytes()]));
    }
    for c in &subs.channels {
        request.extend(command(&[b"SUBSCRIBE", c.as_bytes()]));
    }
    sub.stream.write_all(&request).await?;
    // Connected once Redis has confirmed every subscription.
    let mut confirmed = 0;
    while confirmed < subs.patterns.len() + subs.channels.len() {
        match sub.frame().await?.as_ref().and_then(PubSub::from_frame) {
            Some(PubSub::Confirmed { .. }) => confirmed += 1,
            Some(_) => {}
            None => return Ok(Ended::Served),
        }
    }
    spells.connections += 1;
    let up = AdapterEvent::Connected {
        url: url.to_string(),
        connection: spells.connections,
        dropped: std::mem::take(&mut spells.dropped),
    };
    spells.lost = false;
    if inputs.send(FromRedis::Event(up)).await.is_err() {
        return Ok(Ended::MachineGone);
    }
    let owed = &mut spells.owed;
    loop {
        tokio::select! {
            frame = sub.frame() => {
                let Some(frame) = frame? else { return Ok(Ended::Served) };
                let message = match PubSub::from_frame(&frame) {
                    Some(PubSub::Message { channel, payload })
                    | Some(PubSub::PatternMessage { channel, payload, .. }) => FromRedis::Message {
                        channel: String::from_utf8_lossy(&channel).into_owned(),
                        payload,
                    },
                    _ => continue,
                };
                if inputs.send(message).await.is_err() {
                    return Ok(Ended::MachineGone);
                }
            }
            reply = publisher.frame() => {
                let Some(reply) = reply? else { return Ok(Ended::Served) };
                if let Some(Owed::Count(request_id)) = owed.pop_front() {
                    let count = FromRedis::ServerCount { request_id, count: numsub(&reply) };
                    if inputs.send(count).await.is_err() {
                        return Ok(Ended::MachineGone);
                    }
                }
            }
            out = outputs.recv() => {
                let Some(out) = out else { return Ok(Ended::MachineGone) };
                let (bytes, what) = match out {
                    AdapterOutput::Publish { channel, payload } => {
                        (command(&[b"PUBLISH", channel.as_bytes(), &payload]), Owed::Publish)
                    }
                    AdapterOutput::CountServers { channel, request_id } => (
                        command(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]),
                        Owed::Count(request_id),
                    ),
                };
                if owed.len() >= MAX_PENDING {
                    return Err(std::io::Error::other("Redis stopped answering"));
                }
                publisher.stream.write_all(&bytes).await?;
                owed.push_back(what);
            }
        }
    }
}

/// `PUBSUB NUMSUB channel` answers `[channel, count]`; 1 (this node) if it does not.
fn numsub(reply: &Frame) -> u64 {
    match reply {
        Frame::Array(Some(items)) => match items.get(1) {
            Some(Frame::Integer(n)) => u64::try_from(*n).unwrap_or(1).max(1),
            _ => 1,
        },
        _ => 1,
    }
}

/// The next report of the adapter task; never, without an adapter.
pub async fn recv(link: &mut Option<Link>) -> FromRedis {
    match link {
        Some(link) => link.recv().await,
        None => std::future::pending().await,
    }
}

/// Feed the machine (or the application) one report of the adapter task.
pub fn take(io: &mut Server, app: &mut impl App, report: FromRedis, now: Duration) {
    match report {
        FromRedis::Message { channel, payload } => {
            if let Err(e) = io.adapter_message(&channel, &payload, now) {
                app.adapter(AdapterEvent::Unreadable {
                    channel,
                    error: e.to_string(),
                });
            }
        }
        FromRedis::ServerCount { request_id, count } => io.adapter_server_count(&request_id, count),
        FromRedis::Event(event) => app.adapter(event),
    }
}

/// Hand everything the machine asks of Redis to the adapter task.
pub fn flush(io: &mut Server, link: &mut Option<Link>, app: &mut impl App, now: Duration) {
    let Some(l) = link else { return };
    while let Some(out) = io.poll_adapter() {
        if let Some(report) = l.send(out) {
            take(io, app, report, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_urls() {
        let url: RedisUrl = "redis://127.0.0.1:6390".parse().unwrap();
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 6390));
        let url: RedisUrl = "redis://localhost/0".parse().unwrap();
        assert_eq!((url.host.as_str(), url.port), ("localhost", 6379));
        assert_eq!("http://x".parse::<RedisUrl>(), Err(UrlError::Scheme));
        assert_eq!("redis://:1".parse::<RedisUrl>(), Err(UrlError::NoHost));
        assert_eq!(
            "redis://:secret@h:1".parse::<RedisUrl>(),
            Err(UrlError::Credentials)
        );
        assert_eq!(
            "redis://h:99999".parse::<RedisUrl>(),
            Err(UrlError::BadPort("99999".into()))
        );
    }
}
