//! The client side of a run: every client of one transport, each receiving
//! every event (short or long polling, one SSE stream, one WebSocket) and, when the
//! workload goes up, sending its own messages (HTTP POSTs, or frames on its WebSocket).
//! A client notes when each event arrived, on the same clock the event source used.

use super::{frame_label, ws_config, ClientTally, ConnError, PushTransport, Shared, UP_STRIDE};
use crate::net::http::HttpConn;
use crate::net::ws::{self, AfterReceipt, Received};
use crate::wire::application::push::{self as wp, MIN_PAYLOAD};
use crate::wire::application::websocket::{Message, MessageKind};
use crate::wire::Role;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::{JoinError, JoinSet};
use tokio::time::timeout;

/// What every client of a run did, together.
pub struct Clients {
    pub tally: ClientTally,
    /// The first failure; what the clients measured before and beside it is kept.
    pub error: Option<ClientsError>,
}

/// Why the clients of a run stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    /// One client's connection failed (the others went on).
    #[error("client {client}: {source}")]
    Client { client: usize, source: ConnError },
    /// A client's task panicked or was cancelled.
    #[error("a client task failed: {0}")]
    Task(#[source] JoinError),
    /// The clients were still busy well past the workload's deadline, and were stopped.
    #[error("the clients did not finish in time")]
    Timeout,
}

/// One client's part of the run.
struct ClientDone {
    client: usize,
    tally: ClientTally,
    error: Option<ConnError>,
}

/// Every client of the run, until each has everything or the deadline passes: what they
/// saw together, and the first error.
pub async fn run_clients(shared: Arc<Shared>) -> Clients {
    let workload = &shared.workload;
    let mut clients = JoinSet::new();
    for c in 0..workload.clients {
        clients.spawn(one_client(shared.clone(), c));
    }
    let mut tally = ClientTally::default();
    let mut per_client: Vec<(usize, Vec<u64>)> = Vec::new();
    let mut error = None;
    let overall = workload.deadline() + Duration::from_secs(5);
    let joined = timeout(overall, async {
        while let Some(done) = clients.join_next().await {
            match done {
                Ok(ClientDone {
                    client: c,
                    tally: t,
                    error: e,
                }) => {
                    tally.requests += t.requests;
                    tally.empty_polls += t.empty_polls;
                    tally.connections += t.connections;
                    tally.head_bytes += t.head_bytes;
                    tally.payload_bytes += t.payload_bytes;
                    tally.latencies_us.extend(t.latencies_us);
                    per_client.push((c, t.received.into_iter().flatten().collect()));
                    if let Some(e) = e {
                        error.get_or_insert(ClientsError::Client {
                            client: c,
                            source: e,
                        });
                    }
                }
                Err(e) => {
                    error.get_or_insert(ClientsError::Task(e));
                }
            }
        }
    })
    .await;
    if joined.is_err() {
        clients.abort_all();
        error.get_or_insert(ClientsError::Timeout);
    }
    per_client.sort_by_key(|(c, _)| *c);
    tally.received = per_client.into_iter().map(|(_, r)| r).collect();
    Clients { tally, error }
}

/// Client `c`: receive every event (direction down or both) and send its messages
/// (direction up or both), until done or the workload's deadline passes.
async fn one_client(shared: Arc<Shared>, c: usize) -> ClientDone {
    let mut tally = ClientTally {
        received: vec![Vec::new()],
        ..ClientTally::default()
    };
    let deadline = Instant::now() + shared.workload.deadline();
    let dir = shared.workload.direction;
    let mut up_tally = ClientTally {
        received: vec![Vec::new()],
        ..ClientTally::default()
    };
    let down = async {
        if !dir.down() {
            return Ok(());
        }
        match shared.transport {
            PushTransport::ShortPoll => {
                poll_client(&shared, &mut tally, deadline, true, None).await
            }
            PushTransport::KeepAlivePoll => {
                poll_client(&shared, &mut tally, deadline, false, None).await
            }
            PushTransport::LongPoll => {
                let hold = Some(shared.workload.hold);
                poll_client(&shared, &mut tally, deadline, false, hold).await
            }
            PushTransport::Sse => sse_client(&shared, &mut tally, deadline).await,
            PushTransport::WebSocket => ws_client(&shared, &mut tally, deadline, c).await,
        }
    };
    // WebSocket sends its messages up on its one connection (in ws_client); the
    // HTTP transports POST them, on a connection of their own.
    let up = async {
        match shared.transport {
            _ if !dir.up() => Ok(()),
            PushTransport::WebSocket if dir.down() => Ok(()),
            PushTransport::WebSocket => ws_client(&shared, &mut up_tally, deadline, c).await,
            t => post_sender(&shared, &mut up_tally, c, t == PushTransport::ShortPoll).await,
        }
    };
    let (r_down, r_up) = tokio::join!(down, up);
    tally.requests += up_tally.requests;
    tally.connections += up_tally.connections;
    tally.head_bytes += up_tally.head_bytes;
    tally.payload_bytes += up_tally.payload_bytes;
    ClientDone {
        client: c,
        tally,
        error: r_down.and(r_up).err(),
    }
}

/// Send client `c`'s messages as HTTP POSTs, one per interval; `close` opens a new
/// connection for each.
async fn post_sender(
    shared: &Shared,
    tally: &mut ClientTally,
    c: usize,
    close: bool,
) -> Result<(), ConnError> {
    let w = &shared.workload;
    let limit = w.io_limit();
    let host = shared.addr.to_string();
    let mut conn: Option<HttpConn> = None;
    for i in 0..w.events {
        if !w.interval.is_zero() {
            let at = shared.start + w.interval * ((i + 1).min(u32::MAX as u64) as u32);
            tokio::time::sleep_until(at.into()).await;
        }
        let id = c as u64 * UP_STRIDE + i;
        let body = wp::event_payload(id, w.payload);
        shared.up_created(id);
        let cn = match conn.as_mut() {
            Some(cn) => cn,
            None => {
                let cn = HttpConn::connect(shared.addr, shared.client_count.clone(), limit).await?;
                tally.connections += 1;
                conn.insert(cn)
            }
        };
        let req = wp::post_request(&host, &body, close);
        // Timed before the write, so it sorts before the peer's reaction (`record_at`).
        let sent_at = Instant::now();
        cn.write_all(&req).await?;
        tally.requests += 1;
        tally.head_bytes += (req.len() - body.len()) as u64;
        shared.record_at(
            sent_at,
            Role::Client,
            format!("sends message {i}"),
            Some(format!(
                "POST /messages ({} B head + {} B)",
                req.len() - body.len(),
                body.len()
            )),
        );
        let resp = cn.read_response(limit).await?;
        tally.head_bytes += resp.head_len as u64;
        if close {
            conn = None;
        }
    }
    Ok(())
}

/// Note event `id` as received now by client 0 of this tally.
fn receive(shared: &Shared, tally: &mut ClientTally, payload: &[u8]) {
    let now = Instant::now();
    tally.payload_bytes += payload.len() as u64;
    let Some(id) = wp::event_id(payload) else {
        return;
    };
    if let Some(created) = shared.source.created_at(id) {
        tally
            .latencies_us
            .push(now.saturating_duration_since(created).as_micros() as u64);
    }
    tally.received[0].push(id);
}

fn have_all(shared: &Shared, tally: &ClientTally) -> bool {
    tally.received[0].len() as u64 >= shared.workload.events
}

async fn poll_client(
    shared: &Shared,
    tally: &mut ClientTally,
    deadline: Instant,
    close: bool,
    hold: Option<Duration>,
) -> Result<(), ConnError> {
    let w = &shared.workload;
    let limit = w.io_limit();
    let host = shared.addr.to_string();
    let mut conn: Option<HttpConn> = None;
    let mut next = 0u64;
    while !have_all(shared, tally) && Instant::now() < deadline {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let c = open_connection(shared, tally, limit).await?;
                conn.insert(c)
            }
        };
        let hold_ms = hold.map(|h| h.as_millis() as u64);
        let req = wp::poll_request(&host, next, hold_ms, close);
        // Timed before the write, so it sorts before the peer's reaction (`record_at`).
        let sent_at = Instant::now();
        c.write_all(&req).await?;
        tally.requests += 1;
        tally.head_bytes += req.len() as u64;
        shared.record_at(
            sent_at,
            Role::Client,
            format!("asks for events from {next}"),
            Some(format!("GET /poll ({} B)", req.len())),
        );
        let resp = c.read_response(limit).await?;
        tally.head_bytes += resp.head_len as u64;
        if resp.body.is_empty() {
            tally.empty_polls += 1;
            shared.record(Role::Client, "nothing new", None);
        }
        for payload in resp.body.chunks(w.payload.max(MIN_PAYLOAD)) {
            receive(shared, tally, payload);
            if let Some(id) = wp::event_id(payload) {
                next = next.max(id + 1);
                shared.record(Role::Client, format!("has event {id}"), None);
            }
        }
        if close {
            conn = None; // the server closes after its answer; so do we
        }
        if hold.is_none() && !have_all(shared, tally) {
            tokio::time::sleep(w.poll_interval).await;
        }
    }
    Ok(())
}

/// Open one client connection to the server: counted for the report and drawn in the
/// `--explain` trace as the TCP handshake it costs.
async fn open_connection(
    shared: &Shared,
    tally: &mut ClientTally,
    limit: Duration,
) -> Result<HttpConn, ConnError> {
    let conn = HttpConn::connect(shared.addr, shared.client_count.clone(), limit).await?;
    tally.connections += 1;
    shared.record(
        Role::Client,
        "opens a TCP connection",
        Some("SYN, SYN-ACK, ACK".to_owned()),
    );
    Ok(conn)
}

async fn sse_client(
    shared: &Shared,
    tally: &mut ClientTally,
    deadline: Instant,
) -> Result<(), ConnError> {
    let limit = shared.workload.io_limit();
    let mut conn = open_connection(shared, tally, limit).await?;
    let req = wp::sse_request(&shared.addr.to_string());
    // Timed before the write, so it sorts before the peer's reaction (`record_at`).
    let sent_at = Instant::now();
    conn.write_all(&req).await?;
    tally.requests += 1;
    tally.head_bytes += req.len() as u64;
    shared.record_at(
        sent_at,
        Role::Client,
        "subscribes",
        Some(format!("GET /events ({} B)", req.len())),
    );
    let (head, head_len) = conn.read_response_head(limit).await?;
    tally.head_bytes += head_len as u64;
    if head.status != 200 {
        return Err(ConnError::SseStatus(head.status));
    }
    while !have_all(shared, tally) && Instant::now() < deadline {
        while let Some((ev, used)) = wp::parse_sse_event(&conn.buf) {
            conn.consume(used);
            receive(shared, tally, &ev.data);
            if let Some(id) = wp::event_id(&ev.data) {
                shared.record(Role::Client, format!("has event {id}"), None);
            }
        }
        if have_all(shared, tally) {
            break;
        }
        if conn.read_more(limit, "waiting for an event").await? == 0 {
            break;
        }
    }
    // Read to the end of the stream so every byte the server sent is counted.
    while conn
        .read_more(limit, "waiting for the end of the stream")
        .await?
        > 0
    {}
    Ok(())
}

async fn ws_client(
    shared: &Shared,
    tally: &mut ClientTally,
    deadline: Instant,
    c: usize,
) -> Result<(), ConnError> {
    let w = &shared.workload;
    let limit = w.io_limit();
    let conn = open_connection(shared, tally, limit).await?;
    // The TCP connection is net::ws's from here on, still counted at the socket.
    let (stream, _) = conn.into_parts();
    let asked_at = Instant::now();
    let host = shared.addr.to_string();
    let mut ws = ws::handshake_client(stream, shared.addr, &host, "/events", ws_config(w), &[])
        .await
        .map_err(|e| ConnError::from(e.error))?;
    let (sent, received) = ws.handshake_bytes();
    tally.requests += 1;
    tally.head_bytes += (sent + received) as u64;
    shared.record_at(
        asked_at,
        Role::Client,
        "asks to upgrade",
        Some(format!("GET /events Upgrade: websocket ({sent} B)")),
    );
    // Client-to-server messages (direction up or both) go on this same connection.
    let up_total = if w.direction.up() { w.events } else { 0 };
    let mut up_sent = 0u64;
    loop {
        let next_at = shared.start + w.interval * ((up_sent + 1).min(u32::MAX as u64) as u32);
        tokio::select! {
            r = ws.recv() => match r? {
                Received::Message(m) => {
                    receive(shared, tally, &m.payload);
                    if let Some(id) = wp::event_id(&m.payload) {
                        shared.record(Role::Client, format!("has event {id}"), None);
                    }
                }
                Received::Eof => break,
                other => {
                    // The server's close (answered, §5.5.1, then the client waits for the
                    // server to end the TCP connection), a ping, or a broken rule.
                    if ws.respond(&other).await? == AfterReceipt::Closed {
                        if let Received::Violation(e) = other {
                            return Err(ConnError::Violation(e));
                        }
                        break;
                    }
                }
            },
            _ = tokio::time::sleep_until(next_at.into()), if up_sent < up_total => {
                let id = c as u64 * UP_STRIDE + up_sent;
                let m = Message {
                    kind: MessageKind::Text,
                    payload: wp::event_payload(id, w.payload),
                };
                shared.up_created(id);
                // Timed before the write, so it sorts before the peer's reaction (`record_at`).
                let sent_at = Instant::now();
                ws.send(&m).await?;
                shared.record_at(
                    sent_at,
                    Role::Client,
                    format!("sends message {up_sent}"),
                    Some(frame_label(&m, Some([0; 4]))),
                );
                up_sent += 1;
            }
            _ = tokio::time::sleep_until(deadline.into()) => break,
        }
    }
    Ok(())
}
