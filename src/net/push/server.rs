//! The server side of a run: the event source publishing on the workload's schedule, and
//! one server that speaks all five transports on one port. It routes on the first
//! request head of each connection: a `POST` carries a client's message up; otherwise the
//! run's transport decides: `GET /poll` for short and long polling (a new connection per
//! request with `Connection: close`, or a persistent one, RFC 9112 §9), `GET /events` for
//! Server-Sent Events (WHATWG HTML §9.2) or, with `Upgrade: websocket`, the opening
//! handshake of RFC 6455 §4.2.

use super::{frame_label, ws_config, ConnError, PushTransport, Shared};
use crate::net::http::{Counted, HttpConn, HttpError};
use crate::net::ws::{self, AfterReceipt, Received, WsConnection};
use crate::wire::application::push as wp;
use crate::wire::application::websocket::{CloseCode, Message, MessageKind};
use crate::wire::Role;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Why the server of a run failed: the first failure (it serves on after a connection
/// fails, so the others are still measured).
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be registered with this thread's runtime.
    #[error("listen: {0}")]
    Listen(std::io::Error),
    /// `accept(2)` failed; the server stops accepting.
    #[error("accept: {0}")]
    Accept(std::io::Error),
    /// One connection failed.
    #[error(transparent)]
    Conn(#[from] ConnError),
}

/// The server's side of a run, on the runtime of the thread that calls it: publish the
/// events on schedule, and serve `listener` until `stop`, then let the open connections
/// finish (bounded). `Err` is the first failure.
pub async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    stop: oneshot::Receiver<()>,
) -> Result<(), ServerError> {
    let listener = TcpListener::from_std(listener).map_err(ServerError::Listen)?;
    let producer = tokio::spawn(produce(shared.clone()));
    let first_error = accept_until(listener, shared, stop).await;
    producer.abort();
    first_error.map_or(Ok(()), Err)
}

/// Publish the events on the workload's schedule (the server's side).
async fn produce(shared: Arc<Shared>) {
    let w = &shared.workload;
    let events = if w.direction.down() { w.events } else { 0 };
    for i in 0..events {
        if !w.interval.is_zero() {
            let at = shared.start + w.interval * ((i + 1).min(u32::MAX as u64) as u32);
            tokio::time::sleep_until(at.into()).await;
        }
        shared.source.publish();
        shared.record(Role::Server, format!("event {i} exists"), None);
    }
}

/// Accept connections until told to stop, then let the open ones finish (bounded).
/// Returns the first error, if any.
async fn accept_until(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) -> Option<ServerError> {
    let mut conns: JoinSet<Result<(), ConnError>> = JoinSet::new();
    let mut first_error = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => match a {
                Ok((stream, _)) => {
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    let conn = HttpConn::new(stream, shared.server_count.clone());
                    let shared = shared.clone();
                    conns.spawn(async move { serve_conn(conn, &shared).await });
                }
                Err(e) => {
                    first_error.get_or_insert(ServerError::Accept(e));
                    break;
                }
            },
            Some(done) = conns.join_next() => {
                if let Ok(Err(e)) = done {
                    first_error.get_or_insert(e.into());
                }
            }
        }
    }
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(done) = conns.join_next().await {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(e.into());
            }
        }
    })
    .await;
    conns.abort_all();
    first_error
}

/// One connection: route on its first request head.
async fn serve_conn(mut conn: HttpConn, shared: &Shared) -> Result<(), ConnError> {
    let idle = shared.workload.deadline();
    // Messages from the clients come as POSTs, on connections of their own.
    let Some((first, first_len)) = conn.read_request_head(idle).await? else {
        return Ok(());
    };
    let post = first.method == "POST";
    conn.unread(first, first_len);
    if post {
        return serve_posts(conn, shared).await;
    }
    match shared.transport {
        PushTransport::ShortPoll | PushTransport::KeepAlivePoll | PushTransport::LongPoll => {
            serve_polls(conn, shared).await
        }
        PushTransport::Sse => serve_sse(conn, shared).await,
        PushTransport::WebSocket => serve_ws(conn, shared).await,
    }
}

/// Answer polls until the client closes (or asks to, with `Connection: close`): the
/// events from the one it asks for on, `204 No Content` when there is none. A long
/// poll (`hold_ms` in the query) is held until an event exists or the hold time passes.
async fn serve_polls(mut conn: HttpConn, shared: &Shared) -> Result<(), ConnError> {
    let w = &shared.workload;
    let idle = w.deadline();
    loop {
        let Some((head, _)) = conn.read_request_head(idle).await? else {
            return Ok(()); // the client closed its keep-alive connection
        };
        let close = head.headers.has_token("connection", "close");
        let Some(q) = wp::parse_poll_target(&head.target) else {
            conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
            return Ok(());
        };
        let mut have = shared.source.published();
        if have <= q.next {
            if let Some(ms) = q.hold_ms {
                shared.record(Role::Server, "holds the request", None);
                have = shared
                    .source
                    .wait_for(q.next + 1, Duration::from_millis(ms))
                    .await;
            }
        }
        let have = have.min(w.events);
        let mut body = Vec::new();
        for id in q.next..have {
            body.extend_from_slice(&wp::event_payload(id, w.payload));
        }
        let head = wp::poll_response_head(body.len(), close);
        let label = if body.is_empty() {
            format!("204 No Content ({} B)", head.len())
        } else {
            format!(
                "200 OK, events {}..{} ({} B head + {} B body)",
                q.next,
                have - 1,
                head.len(),
                body.len()
            )
        };
        let mut msg = head;
        msg.extend_from_slice(&body);
        // Timed before the write, so it sorts before the peer's reaction (`record_at`).
        let sent_at = Instant::now();
        conn.write_all(&msg).await?;
        shared.record_at(sent_at, Role::Server, "answers", Some(label));
        if close {
            conn.shutdown().await;
            return Ok(());
        }
    }
}

/// Answer the subscription with one `text/event-stream` response, write each event into
/// it as it appears, and end it after the last.
async fn serve_sse(mut conn: HttpConn, shared: &Shared) -> Result<(), ConnError> {
    let w = &shared.workload;
    let idle = w.deadline();
    if conn.read_request_head(idle).await?.is_none() {
        return Ok(());
    }
    // Timed before the write, so it sorts before the peer's reaction (`record_at`).
    let sent_at = Instant::now();
    conn.write_all(wp::SSE_RESPONSE_HEAD).await?;
    shared.record_at(
        sent_at,
        Role::Server,
        "opens the stream",
        Some(format!(
            "200 OK text/event-stream ({} B)",
            wp::SSE_RESPONSE_HEAD.len()
        )),
    );
    for id in 0..w.events {
        if shared.source.wait_for(id + 1, idle).await <= id {
            break;
        }
        let ev = wp::sse_event(id, &wp::event_payload(id, w.payload));
        // Timed before the write, so it sorts before the peer's reaction (`record_at`).
        let sent_at = Instant::now();
        conn.write_all(&ev).await?;
        shared.record_at(
            sent_at,
            Role::Server,
            "writes an event",
            Some(format!("id: {id} data: … ({} B)", ev.len())),
        );
    }
    conn.shutdown().await;
    Ok(())
}

/// Accept the upgrade, then push a frame per event and read the client's messages until
/// both directions are done; the server closes (RFC 6455 §7.1.1).
async fn serve_ws(mut conn: HttpConn, shared: &Shared) -> Result<(), ConnError> {
    let w = &shared.workload;
    let idle = w.deadline();
    let Some((head, head_len)) = conn.read_request_head(idle).await? else {
        return Ok(());
    };
    // From here on the connection is net::ws's, still counted at the socket.
    let (stream, leftover) = conn.into_parts();
    let peer = stream.get_ref().peer_addr().map_err(HttpError::Io)?;
    let cfg = ws_config(w);
    let mut ws = ws::accept_request(stream, peer, &head, head_len, leftover, cfg, Instant::now())
        .await
        .map_err(|e| ConnError::UpgradeRefused(e.error))?;
    shared.record(
        Role::Server,
        "accepts the upgrade",
        Some(format!(
            "101 Switching Protocols ({} B)",
            ws.handshake_bytes().0
        )),
    );
    if push_and_read(&mut ws, shared).await? == AfterReceipt::Closed {
        return Ok(());
    }
    // §7.1.1: the server starts the close and ends the TCP connection; `close`
    // waits (bounded) for the client's close frame first.
    ws.close(CloseCode(1000), "").await;
    Ok(())
}

/// Send events as they appear and read the client's messages, until both directions are
/// done (each wait bounded; the loop ends on a timeout too). `AfterReceipt::Closed` if the
/// client's close (or a broken rule) already ended the connection.
async fn push_and_read(
    ws: &mut WsConnection<Counted<TcpStream>>,
    shared: &Shared,
) -> Result<AfterReceipt, ConnError> {
    let w = &shared.workload;
    let idle = w.deadline();
    let down_total = if w.direction.down() { w.events } else { 0 };
    let up_total = if w.direction.up() { w.events } else { 0 };
    let (mut sent, mut got) = (0u64, 0u64);
    while sent < down_total || got < up_total {
        tokio::select! {
            have = shared.source.wait_for(sent + 1, idle), if sent < down_total => {
                if have <= sent {
                    break; // no new event within the idle limit
                }
                for id in sent..have.min(down_total) {
                    let m = Message {
                        kind: MessageKind::Text,
                        payload: wp::event_payload(id, w.payload),
                    };
                    // Timed before the write, so it sorts before the peer's reaction (`record_at`).
                    let sent_at = Instant::now();
                    ws.send(&m).await?;
                    shared.record_at(sent_at, Role::Server, "sends a frame", Some(frame_label(&m, None)));
                }
                sent = have.min(down_total);
            }
            r = ws.recv(), if got < up_total => {
                match r? {
                    Received::Message(m) => {
                        shared.up_received(&m.payload, false);
                        got += 1;
                    }
                    Received::Eof => break,
                    other => {
                        // A ping, a close or a broken rule: what RFC 6455 asks for.
                        if ws.respond(&other).await? == AfterReceipt::Closed {
                            return Ok(AfterReceipt::Closed);
                        }
                    }
                }
            }
        }
    }
    Ok(AfterReceipt::Continue)
}

/// Answer POSTs (client-to-server messages) on one connection until it closes.
async fn serve_posts(mut conn: HttpConn, shared: &Shared) -> Result<(), ConnError> {
    let idle = shared.workload.deadline();
    for _ in 0..=MAX_POSTS_PER_CONN {
        let Some((head, _)) = conn.read_request_head(idle).await? else {
            return Ok(());
        };
        let len = head
            .headers
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n <= 1 << 20)
            .ok_or(ConnError::PostWithoutLength)?;
        let body = conn.read_body(len, idle).await?;
        shared.up_received(&body, true);
        let close = head.headers.has_token("connection", "close");
        let answer = wp::post_response_head(close);
        // Timed before the write, so it sorts before the peer's reaction (`record_at`).
        let sent_at = Instant::now();
        conn.write_all(&answer).await?;
        shared.record_at(
            sent_at,
            Role::Server,
            "has the message",
            Some(format!("204 No Content ({} B)", answer.len())),
        );
        if close {
            conn.shutdown().await;
            return Ok(());
        }
    }
    Ok(())
}

/// One connection serves at most this many POSTs (a bound on the loop).
const MAX_POSTS_PER_CONN: u64 = 10_000_000;
