//! A WebSocket for an Engine.IO session: opened directly (`transport=websocket`, no
//! sid: a new session) or as an upgrade of a polling session (with its sid). Each
//! WebSocket message is one packet; the session decides what it means and what to send.

use super::{Shared, Slot};
use crate::net::http::{Counted, HttpConn};
use crate::net::ws::{accept_request, AfterReceipt, Received, WsConfig, WsConnection};
use crate::wire::application::engineio::{check, Message, Refusal, Route, Transmit, Transport};
use crate::wire::application::http1::RequestHead;
use crate::wire::application::websocket::{
    self as websocket, handshake::ServerPolicy, CloseCode, Compress, MessageKind,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

type Ws = WsConnection<Counted<TcpStream>>;

/// Check the upgrade request, run the WebSocket handshake, then serve the session on it.
pub(super) async fn serve(
    conn: HttpConn,
    peer: SocketAddr,
    head: RequestHead,
    head_len: usize,
    shared: Arc<Shared>,
) {
    let q = crate::wire::application::engineio::Query::parse(&head.target);
    let route = if q.path.starts_with(&shared.config.path) {
        check(&head.method, true, &q, |sid| shared.transport_of(sid))
    } else {
        Err(Refusal {
            code: crate::wire::application::engineio::RefusalCode::BadRequest,
            rule: "not an Engine.IO path",
        })
    };
    let route = match route {
        Ok(
            r @ (Route::Open {
                transport: Transport::WebSocket,
            }
            | Route::Session {
                transport: Transport::WebSocket,
                ..
            }),
        ) => r,
        Ok(_) => return refuse(conn, "Bad request").await,
        Err(refusal) => return refuse(conn, refusal.code.message()).await,
    };
    let cfg = WsConfig {
        max_message: shared.config.session.max_payload,
        handshake_timeout: shared.config.request_timeout,
        // The session's heartbeat notices a silent client; this only bounds a stuck one.
        idle_timeout: shared.config.session.ping_interval * 4 + Duration::from_secs(60),
        policy: ServerPolicy {
            deflate: shared.config.per_message_deflate,
            ..ServerPolicy::default()
        },
        ..WsConfig::default()
    };
    let (stream, leftover) = conn.into_parts();
    let Ok(mut ws) =
        accept_request(stream, peer, &head, head_len, leftover, cfg, Instant::now()).await
    else {
        return;
    };
    let slot = match route {
        Route::Open { .. } => shared.open(Transport::WebSocket),
        Route::Session { sid, .. } => shared.find(&sid).filter(|slot| {
            let now = shared.now();
            slot.with(|s| s.ws_attach(now)).is_ok()
        }),
    };
    match slot {
        Some(slot) => run(ws, &slot, &shared).await,
        None => {
            ws.close(CloseCode::NORMAL, "").await;
        }
    }
}

/// The reference server's answer to an upgrade it refuses (`abortUpgrade`). netlab sends
/// it instead of the handshake's 101; engine.io 6 refuses a revision-3 upgrade only after
/// its 101, then writes these same bytes on the upgraded connection.
async fn refuse(conn: HttpConn, message: &str) {
    let (mut stream, _) = conn.into_parts();
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\nContent-Length: {}\r\n\r\n{message}",
        message.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// How long a write may still take once the session has ended (its last frames, the
/// close): after that a client that does not read is cut off, so that it cannot hold
/// the connection, and what is queued for it, forever.
const ABANDON_AFTER_CLOSE: Duration = Duration::from_secs(3);

/// Run `write` unless the session has been closed for [`ABANDON_AFTER_CLOSE`] first
/// (`None`: give up the connection).
async fn unless_abandoned<T>(
    slot: &Slot,
    write: impl std::future::Future<Output = T>,
) -> Option<T> {
    let abandoned = async {
        slot.wait_for(|s| s.closed().map(|_| ())).await;
        tokio::time::sleep(ABANDON_AFTER_CLOSE).await;
    };
    // A write that completes at once (the usual case) never sets up the other wait.
    tokio::select! {
        biased;
        r = write => Some(r),
        () = abandoned => None,
    }
}

/// The most frames written together: a client with several waiting (broadcasts in a
/// row) costs one system call, not one per frame.
const BATCH: usize = 64;

/// Move frames between the WebSocket and the session until either ends.
async fn run(mut ws: Ws, slot: &Arc<Slot>, shared: &Arc<Shared>) {
    loop {
        let notified = slot.outbound.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        loop {
            let Some(first) = slot.lock().take_transmit() else {
                break;
            };
            match write_from(&mut ws, slot, first).await {
                Written::Yes => {}
                Written::Failed => {
                    slot.with(|s| s.ws_closed());
                    return;
                }
                // Closed on purpose, or the session ended and the client still does not
                // read: cut it off.
                Written::Ended => return,
            }
        }
        tokio::select! {
            r = ws.recv() => {
                let goes_on = match r {
                    Ok(Received::Message(m)) => {
                        slot.wait_for_room().await;
                        let now = shared.now();
                        slot.with(|s| s.ws_frame(&from_ws(m), now));
                        true
                    }
                    Ok(other) => matches!(ws.respond(&other).await, Ok(AfterReceipt::Continue)),
                    Err(_) => false,
                };
                if !goes_on {
                    slot.with(|s| s.ws_closed());
                    return;
                }
            }
            _ = &mut notified => {}
        }
    }
}

/// What became of the frames written.
enum Written {
    Yes,
    Failed,
    Ended,
}

/// Write `first` and whatever else the session has for the WebSocket now (up to
/// [`BATCH`] frames). One frame alone goes as [`WsConnection::send`] sends it (a large
/// payload without a copy); several are encoded together and written at once.
async fn write_from(ws: &mut Ws, slot: &Slot, first: Transmit) -> Written {
    let frame = |t: Transmit| match t {
        Transmit::FrameUncompressed(m) => Some((to_ws(m), Compress::Never)),
        Transmit::Frame(m) => Some((to_ws(m), Compress::Auto)),
        Transmit::CloseWebSocket => None,
    };
    let mut next = slot.lock().take_another_transmit();
    let Some((m, compress)) = frame(first) else {
        return close(ws, slot).await;
    };
    if next.is_none() {
        return match unless_abandoned(slot, ws.send_with(&m, compress)).await {
            Some(Ok(())) => Written::Yes,
            Some(Err(_)) => Written::Failed,
            None => Written::Ended,
        };
    }
    let mut queued = ws.queue(&m, compress);
    let mut closing = false;
    let mut count = 1;
    while let (Ok(()), Some(t)) = (&queued, next.take()) {
        let Some((m, compress)) = frame(t) else {
            closing = true;
            break;
        };
        queued = ws.queue(&m, compress);
        count += 1;
        if count < BATCH {
            next = slot.lock().take_another_transmit();
        }
    }
    if queued.is_err() {
        return Written::Failed;
    }
    match unless_abandoned(slot, ws.flush_queued()).await {
        Some(Ok(())) if closing => close(ws, slot).await,
        Some(Ok(())) => Written::Yes,
        Some(Err(_)) => Written::Failed,
        None => Written::Ended,
    }
}

/// The session ends the WebSocket: a close frame, then the connection goes.
async fn close(ws: &mut Ws, slot: &Slot) -> Written {
    unless_abandoned(slot, ws.close(CloseCode::NORMAL, "")).await;
    Written::Ended
}

fn to_ws(m: Message) -> websocket::Message {
    match m {
        Message::Text(t) => websocket::Message::text(t),
        Message::Binary(b) => websocket::Message::binary(b),
    }
}

fn from_ws(m: websocket::Message) -> Message {
    match m.kind {
        // The WebSocket connection has checked that text is UTF-8.
        MessageKind::Text => Message::Text(String::from_utf8_lossy(&m.payload).into_owned()),
        MessageKind::Binary => Message::Binary(m.payload),
    }
}
