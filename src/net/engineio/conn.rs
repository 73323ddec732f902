//! One TCP connection to the Engine.IO server: HTTP requests one after another
//! (keep-alive), each checked with `engineio::check` and served from its session; a
//! request with `Upgrade: websocket` hands the connection to [`super::ws`].

use super::{Connections, Page, Shared, Slot};
use crate::net::http::{ByteCount, HttpConn, HttpError};
use crate::wire::application::engineio::compression::{self, Coding};
use crate::wire::application::engineio::cors::is_preflight;
use crate::wire::application::engineio::{
    check, GetAnswer, PostAnswer, Query, Refusal, RefusalCode, Route, Transport,
};
use crate::wire::application::http1::RequestHead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a keep-alive connection may sit idle between requests.
const IDLE: Duration = Duration::from_secs(60);

/// The most bytes kept from a client while its poll waits.
const PIPELINED: usize = 16 * 1024;

/// Serve requests on `stream` until the client closes it or a request ends it. Each
/// request goes to a page or to the Engine.IO endpoint its path names (see
/// [`super::EngineServer::bind_all`]).
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    endpoints: Arc<[Arc<Shared>]>,
    connections: &Connections,
) {
    let mut conn = HttpConn::new(stream, Arc::new(ByteCount::default()));
    loop {
        let read = tokio::select! {
            read = conn.read_request_head(IDLE) => read,
            // The server is shutting down: no more requests on this connection.
            () = connections.stopping() => return conn.shutdown().await,
        };
        let (head, head_len) = match read {
            Ok(Some(h)) => h,
            Ok(None) | Err(_) => return,
        };
        let path = Query::parse(&head.target).path;
        let page = endpoints
            .iter()
            .flat_map(|e| &e.config.pages)
            .find(|p| p.path == path);
        let Some(shared) = endpoints
            .iter()
            .find(|e| path.starts_with(&e.config.path))
            .or(endpoints.first())
            .cloned()
        else {
            return;
        };
        let upgrade = head.headers.has_token("upgrade", "websocket");
        if upgrade {
            return super::ws::serve(conn, peer, head, head_len, shared).await;
        }
        let closes = head.headers.has_token("connection", "close");
        conn.answer_headers = match &shared.config.cors {
            Some(cors) => cors.answer_headers(),
            None => String::new(),
        };
        let served = match page {
            Some(page) => serve_page(&mut conn, &head, page).await,
            None => serve_request(&mut conn, &head, &shared).await,
        };
        match served {
            Ok(Next::KeepAlive) if !closes => {}
            Ok(_) | Err(_) => {
                conn.shutdown().await;
                return;
            }
        }
    }
}

/// Whether the connection can carry another request.
enum Next {
    KeepAlive,
    Close,
}

/// Answer one HTTP request (not an upgrade).
async fn serve_request(
    conn: &mut HttpConn,
    head: &RequestHead,
    shared: &Arc<Shared>,
) -> Result<Next, HttpError> {
    let q = Query::parse(&head.target);
    if !q.path.starts_with(&shared.config.path) {
        respond(conn, 404, "text/plain", b"Not Found").await?;
        return Ok(Next::KeepAlive);
    }
    if let Some(cors) = &shared.config.cors {
        let request_method = head.headers.get("access-control-request-method");
        if is_preflight(&head.method, request_method) {
            let requested = head.headers.get("access-control-request-headers");
            conn.answer_headers = cors.preflight_headers(requested);
            respond(conn, 204, "text/plain", b"").await?;
            return Ok(Next::KeepAlive);
        }
    }
    let route = check(&head.method, false, &q, |sid| shared.transport_of(sid));
    match route {
        Err(refusal) => refuse(conn, refusal).await,
        Ok(Route::Open { .. }) => match shared.open(Transport::Polling) {
            Some(slot) => poll(conn, head, &slot, shared).await,
            None => {
                let full = Refusal {
                    code: RefusalCode::Forbidden,
                    rule: "the server holds as many sessions as it may",
                };
                refuse(conn, full).await
            }
        },
        Ok(Route::Session { sid, .. }) => {
            let Some(slot) = shared.find(&sid) else {
                // It closed between the check and now.
                let gone = Refusal {
                    code: RefusalCode::UnknownSid,
                    rule: "no open session has this sid",
                };
                return refuse(conn, gone).await;
            };
            match head.method.as_str() {
                "GET" => poll(conn, head, &slot, shared).await,
                "POST" => post(conn, head, &slot, shared).await,
                _ => {
                    respond(conn, 500, "text/plain", b"").await?;
                    Ok(Next::KeepAlive)
                }
            }
        }
    }
}

/// A polling GET: answered at once, or when the session has something to send. The
/// connection is watched meanwhile: a client that leaves ends the session. The answer is
/// compressed as the reference server's `httpCompression` does (see
/// `engineio::compression`).
async fn poll(
    conn: &mut HttpConn,
    head: &RequestHead,
    slot: &Arc<Slot>,
    shared: &Arc<Shared>,
) -> Result<Next, HttpError> {
    let now = shared.now();
    let (body, compress) = match slot.with(|s| (s.get(now), s.answer_compress())) {
        (GetAnswer::Body(b), compress) => (b, compress),
        (GetAnswer::Refused, _) => {
            respond(conn, 400, "text/html", b"").await?;
            return Ok(Next::KeepAlive);
        }
        (GetAnswer::Wait, _) => match wait_for_answer(conn, slot).await {
            Some(answer) => answer,
            None => return Ok(Next::Close),
        },
    };
    let coding = head
        .headers
        .get("accept-encoding")
        .and_then(compression::choose)
        .filter(|_| compress && shared.config.http_compression)
        .filter(|_| compression::worth_it(body.len()));
    match coding {
        Some(coding) => {
            let encoded = compression::encode(coding, body.as_bytes());
            respond_with(conn, 200, TEXT, Some(coding), &encoded).await?
        }
        None => respond(conn, 200, TEXT, body.as_bytes()).await?,
    }
    Ok(Next::KeepAlive)
}

/// The content type of a polling answer.
const TEXT: &str = "text/plain; charset=UTF-8";

/// Wait for the answer to a waiting GET while watching its connection: a client that
/// leaves ends the session ("transport error"). `None` when there will be no answer;
/// with the body, whether it may be compressed.
async fn wait_for_answer(conn: &mut HttpConn, slot: &Arc<Slot>) -> Option<(String, bool)> {
    let answer = slot.wait_for_outbound(|s| match s.take_poll_answer() {
        Some(body) => Some(Some((body, s.answer_compress()))),
        None if !s.get_waiting() => Some(None),
        None => None,
    });
    tokio::pin!(answer);
    loop {
        tokio::select! {
            body = &mut answer => return body,
            r = conn.read_more(IDLE, "waiting beside a poll") => {
                // A quiet client is fine (the session's heartbeat answers the poll in
                // time). A client does not send behind a waiting poll; one that does
                // (beyond a request head's worth) is treated as gone.
                let gone = !matches!(r, Ok(1..) | Err(HttpError::Timeout(_)));
                if gone || conn.buf.len() > PIPELINED {
                    slot.with(|s| s.get_aborted());
                    return None;
                }
            }
        }
    }
}

/// A POST: its body (bounded by maxPayload) into the session.
async fn post(
    conn: &mut HttpConn,
    head: &RequestHead,
    slot: &Arc<Slot>,
    shared: &Arc<Shared>,
) -> Result<Next, HttpError> {
    let len = head
        .headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let Some(len) = len else {
        respond(conn, 411, "text/plain", b"").await?;
        return Ok(Next::Close);
    };
    if head.headers.get("content-type") == Some("application/octet-stream") {
        // Revision 4 sends binary as base64 text; the reference server refuses this.
        slot.with(|s| s.post_aborted());
        respond(conn, 400, "text/html", b"").await?;
        return Ok(Next::Close);
    }
    if slot.with(|s| s.post_begin()) == PostAnswer::Refused {
        respond(conn, 400, "text/html", b"").await?;
        return Ok(Next::Close);
    }
    if len > shared.config.session.max_payload {
        slot.with(|s| s.post_too_large());
        respond(conn, 413, "text/html", b"").await?;
        return Ok(Next::Close);
    }
    slot.wait_for_room().await;
    let body = conn.read_body(len, shared.config.request_timeout).await;
    let now = shared.now();
    let answer = match &body {
        Ok(b) => slot.with(|s| s.post_body(b, now)),
        Err(_) => {
            slot.with(|s| s.post_aborted());
            return Ok(Next::Close);
        }
    };
    match answer {
        PostAnswer::Ok => respond(conn, 200, "text/html", b"ok").await?,
        PostAnswer::Refused => respond(conn, 400, "text/html", b"").await?,
        PostAnswer::TooLarge => respond(conn, 413, "text/html", b"").await?,
    }
    Ok(Next::KeepAlive)
}

/// A GET for a page: its bytes, as they are; any other method is refused (405).
async fn serve_page(
    conn: &mut HttpConn,
    head: &RequestHead,
    page: &Page,
) -> Result<Next, HttpError> {
    match head.method.as_str() {
        "GET" => respond(conn, 200, page.content_type, page.body.as_bytes()).await?,
        _ => respond(conn, 405, "text/plain", b"Method Not Allowed").await?,
    }
    Ok(Next::KeepAlive)
}

/// Answer a refused request with its status and JSON body.
async fn refuse(conn: &mut HttpConn, refusal: Refusal) -> Result<Next, HttpError> {
    let body = refusal.json_body();
    respond(conn, refusal.status(), "application/json", body.as_bytes()).await?;
    Ok(Next::KeepAlive)
}

/// Write a whole response with `Content-Length`.
async fn respond(
    conn: &mut HttpConn,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<(), HttpError> {
    respond_with(conn, status, content_type, None, body).await
}

/// Write a whole response with `Content-Length`, its body in `coding` if given.
async fn respond_with(
    conn: &mut HttpConn,
    status: u16,
    content_type: &str,
    coding: Option<Coding>,
    body: &[u8],
) -> Result<(), HttpError> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    };
    let encoding = match coding {
        Some(c) => format!("Content-Encoding: {}\r\n", c.as_str()),
        None => String::new(),
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{encoding}Content-Length: {}\r\ncache-control: no-store\r\n{}\r\n",
        body.len(),
        conn.answer_headers
    )
    .into_bytes();
    out.extend_from_slice(body);
    conn.write_all(&out).await
}
