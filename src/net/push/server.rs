//! The server side of a comparison run: the event source publishing on the workload's
//! schedule, and one server that speaks all five transports on one port. It routes on
//! the first request head of each connection: a `POST` carries a client's message up,
//! `GET /poll` is short or long polling (RFC 9110 §9.3.1; `Connection: close` or
//! keep-alive, RFC 9112 §9.3), `GET /events` is Server-Sent Events (WHATWG HTML
//! §9.2) or, with `Upgrade: websocket`, the opening handshake of RFC 6455 §4.2.

use super::{frame_label, ws_config, ws_error, End, Shared, Transport};
use crate::net::http::{HttpConn, HttpError};
use crate::net::ws::{self, Flow, Received};
use crate::wire::push as wp;
use crate::wire::websocket::{CloseCode, Message, MessageKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Publish the events on the workload's schedule (the server's side).
pub(super) async fn produce(shared: Arc<Shared>, start: Instant) {
    let w = &shared.workload;
    let events = if w.direction.down() { w.events } else { 0 };
    for i in 0..events {
        if !w.interval.is_zero() {
            let at = start + w.interval * ((i + 1).min(u32::MAX as u64) as u32);
            tokio::time::sleep_until(at.into()).await;
        }
        shared.source.publish();
        shared
            .trace
            .record(End::Server, format!("event {i} exists"), None);
    }
}

/// Accept connections until told to stop, then let the open ones finish (bounded).
/// Returns the first connection error, if any.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    accepted: Arc<AtomicU64>,
    mut stop: oneshot::Receiver<()>,
) -> Option<String> {
    let mut conns: JoinSet<Result<(), HttpError>> = JoinSet::new();
    let mut first_error = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            a = listener.accept() => match a {
                Ok((stream, _)) => {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let conn = HttpConn::new(stream, shared.server_count.clone());
                    let shared = shared.clone();
                    conns.spawn(async move { serve_conn(conn, &shared).await });
                }
                Err(e) => {
                    first_error.get_or_insert(format!("accept: {e}"));
                    break;
                }
            },
            Some(done) = conns.join_next() => {
                if let Ok(Err(e)) = done {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
    }
    let _ = timeout(Duration::from_secs(2), async {
        while let Some(done) = conns.join_next().await {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(e.to_string());
            }
        }
    })
    .await;
    conns.abort_all();
    first_error
}

async fn serve_conn(mut conn: HttpConn, shared: &Shared) -> Result<(), HttpError> {
    let w = &shared.workload;
    let idle = w.deadline();
    let trace = &shared.trace;
    // Messages from the clients come as POSTs, on connections of their own.
    let Some((first, first_len)) = conn.read_request_head(idle).await? else {
        return Ok(());
    };
    if first.method == "POST" {
        conn.unread(first, first_len);
        return serve_posts(conn, shared).await;
    }
    conn.unread(first, first_len);
    match shared.transport {
        Transport::ShortPoll | Transport::KeepAlivePoll | Transport::LongPoll => loop {
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
                    trace.record(End::Server, "holds the request", None);
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
            conn.write_all(&msg).await?;
            trace.record(End::Server, "answers", Some(label));
            if close {
                conn.shutdown().await;
                return Ok(());
            }
        },
        Transport::Sse => {
            if conn.read_request_head(idle).await?.is_none() {
                return Ok(());
            }
            conn.write_all(wp::SSE_RESPONSE_HEAD).await?;
            trace.record(
                End::Server,
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
                conn.write_all(&ev).await?;
                trace.record(
                    End::Server,
                    "writes an event",
                    Some(format!("id: {id} data: … ({} B)", ev.len())),
                );
            }
            conn.shutdown().await;
            Ok(())
        }
        Transport::WebSocket => {
            let Some((head, head_len)) = conn.read_request_head(idle).await? else {
                return Ok(());
            };
            // From here on the connection is net::ws's, still counted at the socket.
            let (stream, leftover) = conn.into_parts();
            let peer = stream.get_ref().peer_addr()?;
            let cfg = ws_config(w);
            let mut ws =
                ws::accept_request(stream, peer, &head, head_len, leftover, cfg, Instant::now())
                    .await
                    .map_err(|(e, _)| HttpError::Malformed(format!("upgrade refused: {e}")))?;
            trace.record(
                End::Server,
                "accepts the upgrade",
                Some(format!(
                    "101 Switching Protocols ({} B)",
                    ws.handshake_bytes().0
                )),
            );
            let down_total = if w.direction.down() { w.events } else { 0 };
            let up_total = if w.direction.up() { w.events } else { 0 };
            let (mut sent, mut got) = (0u64, 0u64);
            // Send events as they appear and read the client's messages, until both
            // directions are done (each wait bounded; the loop ends on a timeout too).
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
                            ws.send(&m).await.map_err(ws_error)?;
                            trace.record(End::Server, "sends a frame", Some(frame_label(&m, None)));
                        }
                        sent = have.min(down_total);
                    }
                    r = ws.recv(), if got < up_total => {
                        match r.map_err(ws_error)? {
                            Received::Message(m) => {
                                shared.up_received(&m.payload, false);
                                got += 1;
                            }
                            Received::Eof => break,
                            other => {
                                // A ping, a close or a broken rule: what RFC 6455 asks for.
                                if ws.respond(&other).await.map_err(ws_error)? == Flow::Closed {
                                    return Ok(());
                                }
                            }
                        }
                    }
                }
            }
            // §7.1.1: the server starts the close and ends the TCP connection; `close`
            // waits (bounded) for the client's close frame first.
            ws.close(CloseCode(1000), "").await;
            Ok(())
        }
    }
}

/// Answer POSTs (client-to-server messages) on one connection until it closes.
async fn serve_posts(mut conn: HttpConn, shared: &Shared) -> Result<(), HttpError> {
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
            .ok_or_else(|| HttpError::Malformed("a POST without a usable Content-Length".into()))?;
        let body = conn.read_body(len, idle).await?;
        shared.up_received(&body, true);
        let close = head.headers.has_token("connection", "close");
        let answer = wp::post_response_head(close);
        conn.write_all(&answer).await?;
        shared.trace.record(
            End::Server,
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
