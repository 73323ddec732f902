//! The opening handshake on a byte stream (RFC 6455 §4), with a time limit: the HTTP heads
//! are read and written here, and judged by `wire::application::websocket::handshake`.
//!
//! - [`accept`] (a TCP stream) and [`accept_stream`] (any byte stream) run the server's
//!   side; [`accept_request`] finishes it for a server that read the request head itself.
//! - [`connect`] (a `ws://` URL) and [`handshake_client`] (a connected stream) run the
//!   client's.
//!
//! All five fail with the same [`HandshakeError`]: what went wrong, and the heads traced
//! before it did.

use super::trace::{head_trace, WsTrace};
use super::{Opened, ReadReady, ServeMode, WsConfig, WsConnection, WsError};
use crate::wire::application::http1::{self, Scan, DEFAULT_HEAD_LIMIT};
use crate::wire::application::tls;
use crate::wire::application::websocket::handshake;
use crate::wire::application::websocket::Role;
use crate::wire::text;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A `ws://host:port/path` URL. (`wss://` needs TLS, which netlab does not do.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub resource: String,
}

impl FromStr for WsUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<WsUrl, String> {
        let rest = if let Some(r) = s.strip_prefix("ws://") {
            r
        } else if s.starts_with("wss://") {
            return Err("wss:// needs TLS, which netlab does not speak; use ws://".into());
        } else {
            return Err(format!(
                "'{s}' is not a ws:// URL (for example ws://127.0.0.1:9001/)"
            ));
        };
        let (authority, resource) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        // RFC 6455 §3: `ws-URI = "ws:" "//" host [ ":" port ] path [ "?" query ]`, with
        // no userinfo; a browser refuses such a URL too.
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            return Err(format!(
                "'{s}' carries a user name or password ('{userinfo}@'): a ws:// URL has none (RFC 6455 §3)"
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6.split_once(']').ok_or("an IPv6 host needs a closing ]")?;
            (h.to_owned(), p.strip_prefix(':').unwrap_or(""))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p),
                None => (authority.to_owned(), ""),
            }
        };
        if host.is_empty() {
            return Err(format!("'{s}' has no host"));
        }
        let port = if port.is_empty() {
            80
        } else {
            port.parse()
                .map_err(|_| format!("'{port}' is not a port number"))?
        };
        Ok(WsUrl {
            host,
            port,
            resource,
        })
    }
}

impl WsUrl {
    /// The value of the `Host` header (RFC 9110 §7.2: host, and port when not default).
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "ws://{host}:{}{}", self.port, self.resource)
    }
}

/// Why an opening handshake failed, with the heads traced before it did (empty unless
/// tracing, or when it failed before a head was complete).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct HandshakeError {
    #[source]
    pub error: WsError,
    pub trace: Vec<WsTrace>,
}

impl From<WsError> for HandshakeError {
    fn from(error: WsError) -> Self {
        HandshakeError {
            error,
            trace: Vec::new(),
        }
    }
}

impl From<std::io::Error> for HandshakeError {
    fn from(e: std::io::Error) -> Self {
        WsError::Io(e).into()
    }
}

/// Read an HTTP head from `stream` (bounded in size and time). Returns the bytes read:
/// the head and whatever came after it. `early` looks at the bytes after each read and
/// may end the wait at once, when they cannot be the head expected.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
    early: fn(&[u8]) -> Option<WsError>,
) -> Result<Vec<u8>, WsError> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        loop {
            let n = stream.read_buf(&mut buf).await?;
            if let Some(e) = early(&buf) {
                return Err(e);
            }
            if n == 0 {
                return Err(WsError::ClosedDuringHandshake);
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() >= DEFAULT_HEAD_LIMIT {
                return Ok(());
            }
        }
    };
    match timeout(limit, read).await {
        Ok(r) => r?,
        Err(_) => return Err(WsError::Timeout("waiting for the handshake")),
    }
    Ok(buf)
}

/// A server's early look: a TLS record where a request should be (its first three
/// bytes are enough to tell, `tls::looks_like_record`).
fn tls_instead_of_http(buf: &[u8]) -> Option<WsError> {
    match buf {
        [content_type, 3, minor, ..] if tls::looks_like_record(buf) => Some(WsError::Tls {
            content_type: *content_type,
            minor: *minor,
        }),
        _ => None,
    }
}

/// A client's early look: every HTTP/1.x response starts with `HTTP/` (RFC 9112 §4);
/// bytes that cannot are another protocol's (a banner, a greeting), shown escaped.
fn not_an_http_response(buf: &[u8]) -> Option<WsError> {
    const START: &[u8] = b"HTTP/";
    let n = buf.len().min(START.len());
    (buf[..n] != START[..n]).then(|| WsError::NotHttp {
        first_bytes: text::quoted(buf, 64),
    })
}

/// The server's side of the handshake on an accepted TCP stream.
pub async fn accept(stream: TcpStream, cfg: WsConfig) -> Result<WsConnection, HandshakeError> {
    let peer = tcp_ready(&stream)?;
    accept_stream(stream, peer, cfg).await
}

/// The far end of `stream`, after turning Nagle's algorithm off (small messages go out
/// at once rather than waiting to be merged).
fn tcp_ready(stream: &TcpStream) -> std::io::Result<SocketAddr> {
    stream.set_nodelay(true)?;
    stream.peer_addr()
}

/// The server's side of the handshake on any byte stream whose far end is `peer`.
pub async fn accept_stream<S: AsyncRead + AsyncWrite + ReadReady + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    cfg: WsConfig,
) -> Result<WsConnection<S>, HandshakeError> {
    let started = Instant::now();
    let buf = read_head(&mut stream, cfg.handshake_timeout, tls_instead_of_http).await?;
    let (head, head_len) = match http1::parse_request(&buf, DEFAULT_HEAD_LIMIT) {
        Ok(Scan::Complete { value, head_len }) => (value, head_len),
        Ok(Scan::NeedMore) => return Err(WsError::ClosedDuringHandshake.into()),
        Err(e) => {
            let rej = handshake::Rejection {
                status: 400,
                rule: e.to_string(),
                checks: vec![],
            };
            let _ = stream.write_all(&rej.response_bytes()).await;
            return Err(WsError::from(e).into());
        }
    };
    let leftover = buf[head_len..].to_vec();
    accept_request(stream, peer, &head, head_len, leftover, cfg, started).await
}

/// The server's side of the handshake once the request head (`head_len` bytes on the
/// wire) has been read from `stream`, for a server that reads heads itself and routes
/// some of them to WebSocket; `leftover` holds the bytes read after the head.
pub async fn accept_request<S: AsyncRead + AsyncWrite + ReadReady + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    head: &http1::RequestHead,
    head_len: usize,
    leftover: Vec<u8>,
    cfg: WsConfig,
    started: Instant,
) -> Result<WsConnection<S>, HandshakeError> {
    let mut trace = Vec::new();
    let verdict = handshake::validate_request(head, &cfg.policy);
    let at = started.elapsed().as_micros() as u64;
    if cfg.trace {
        let checks = match &verdict {
            Ok(a) => a.checks.clone(),
            Err(r) => r.checks.clone(),
        };
        let line = format!(
            "{} {} HTTP/1.{}",
            head.method, head.target, head.minor_version
        );
        trace.push(head_trace(at, Role::Client, line, &head.headers, checks));
    }
    let (response, ok) = match &verdict {
        Ok(a) => (a.response_bytes(), true),
        Err(r) => (r.response_bytes(), false),
    };
    if cfg.trace {
        if let Ok(Scan::Complete { value, .. }) =
            http1::parse_response(&response, DEFAULT_HEAD_LIMIT)
        {
            let line = format!("HTTP/1.1 {} {}", value.status, value.reason);
            let at = started.elapsed().as_micros() as u64;
            trace.push(head_trace(at, Role::Server, line, &value.headers, vec![]));
        }
    }
    if let Err(e) = stream.write_all(&response).await {
        return Err(HandshakeError {
            error: e.into(),
            trace,
        });
    }
    if !ok {
        let _ = stream.shutdown().await;
        let (status, rule) = match verdict {
            Err(r) => (r.status, r.rule),
            Ok(_) => (0, String::new()),
        };
        return Err(HandshakeError {
            error: WsError::Refused { status, rule },
            trace,
        });
    }
    let opened = Opened {
        peer,
        role: Role::Server,
        leftover,
        started,
        trace,
        protocol: None,
        deflate: verdict.ok().and_then(|a| a.deflate),
        server_mode: None,
        handshake_sent: response.len(),
        handshake_received: head_len,
    };
    Ok(WsConnection::open(stream, cfg, opened))
}

/// Connect to `url` and run the client's side of the handshake (§4.1).
pub async fn connect(
    url: &WsUrl,
    cfg: WsConfig,
    protocols: &[String],
) -> Result<WsConnection, HandshakeError> {
    let limit = cfg.handshake_timeout;
    let stream = match timeout(limit, TcpStream::connect((url.host.as_str(), url.port))).await {
        Ok(s) => s?,
        Err(_) => return Err(WsError::Timeout("connecting").into()),
    };
    let peer = tcp_ready(&stream)?;
    handshake_client(
        stream,
        peer,
        &url.host_header(),
        &url.resource,
        cfg,
        protocols,
    )
    .await
}

/// The client's side of the handshake (§4.1) on a stream already connected to `peer`,
/// asking for `resource` on `host` (the `Host` header's value).
pub async fn handshake_client<S: AsyncRead + AsyncWrite + ReadReady + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    host: &str,
    resource: &str,
    cfg: WsConfig,
    protocols: &[String],
) -> Result<WsConnection<S>, HandshakeError> {
    let started = Instant::now();
    let limit = cfg.handshake_timeout;
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| WsError::Random(e.to_string()))?;
    let (key, request) = handshake::client_request_offering(
        host,
        resource,
        nonce,
        protocols,
        None,
        cfg.offer_deflate,
    );
    let mut trace = Vec::new();
    if cfg.trace {
        if let Ok(Scan::Complete { value, .. }) = http1::parse_request(&request, DEFAULT_HEAD_LIMIT)
        {
            let line = format!("{} {} HTTP/1.1", value.method, value.target);
            let at = started.elapsed().as_micros() as u64;
            trace.push(head_trace(at, Role::Client, line, &value.headers, vec![]));
        }
    }
    // From here on a failure keeps the heads traced so far.
    let failed = |error: WsError, trace: Vec<WsTrace>| HandshakeError { error, trace };
    match timeout(limit, stream.write_all(&request)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(failed(e.into(), trace)),
        Err(_) => return Err(failed(WsError::Timeout("sending the handshake"), trace)),
    }
    let buf = match read_head(&mut stream, limit, not_an_http_response).await {
        Ok(b) => b,
        Err(e) => return Err(failed(e, trace)),
    };
    let (head, head_len) = match http1::parse_response(&buf, DEFAULT_HEAD_LIMIT) {
        Ok(Scan::Complete { value, head_len }) => (value, head_len),
        Ok(Scan::NeedMore) => return Err(failed(WsError::ClosedDuringHandshake, trace)),
        Err(e) => return Err(failed(e.into(), trace)),
    };
    if cfg.trace {
        let line = format!(
            "HTTP/1.{} {} {}",
            head.minor_version, head.status, head.reason
        );
        let at = started.elapsed().as_micros() as u64;
        trace.push(head_trace(at, Role::Server, line, &head.headers, vec![]));
    }
    let agreed =
        match handshake::validate_response_offering(&head, &key, protocols, cfg.offer_deflate) {
            Ok(a) => a,
            Err(e) => return Err(failed(e.into(), trace)),
        };
    let opened = Opened {
        peer,
        role: Role::Client,
        leftover: buf[head_len..].to_vec(),
        started,
        trace,
        protocol: agreed.protocol,
        deflate: agreed.deflate,
        server_mode: head
            .headers
            .get(&ServeMode::HEADER.to_ascii_lowercase())
            .map(str::to_owned),
        handshake_sent: request.len(),
        handshake_received: head_len,
    };
    Ok(WsConnection::open(stream, cfg, opened))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u: WsUrl = "ws://127.0.0.1:9001/runCase?case=1".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 9001));
        assert_eq!(u.resource, "/runCase?case=1");
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        let u: WsUrl = "ws://[::1]:80".parse().unwrap();
        assert_eq!((u.host.as_str(), u.resource.as_str()), ("::1", "/"));
        assert_eq!(u.host_header(), "[::1]");
        let u: WsUrl = "ws://localhost?x=1".parse().unwrap();
        assert_eq!((u.port, u.resource.as_str()), (80, "/?x=1"));
        assert!("wss://x".parse::<WsUrl>().unwrap_err().contains("TLS"));
        assert!("http://x".parse::<WsUrl>().is_err());
        assert!("ws://:80".parse::<WsUrl>().is_err());
        // RFC 6455 §3: no userinfo, with or without a password.
        for with_user in ["ws://user:pw@127.0.0.1:9003/", "ws://user@host/x"] {
            let e = with_user.parse::<WsUrl>().unwrap_err();
            assert!(e.contains("RFC 6455 §3"), "{e}");
        }
        // An @ after the authority belongs to the resource.
        let u: WsUrl = "ws://h/a@b".parse().unwrap();
        assert_eq!((u.host.as_str(), u.resource.as_str()), ("h", "/a@b"));
    }

    #[test]
    fn a_response_that_cannot_be_http_is_seen_in_its_first_bytes() {
        let ok = b"HTTP/1.1 101 Switching Protocols\r\n";
        for n in 0..=ok.len() {
            assert!(not_an_http_response(&ok[..n]).is_none(), "prefix {n}");
        }
        let e = not_an_http_response(b"220 mail.example ESMTP\r\n").unwrap();
        assert_eq!(
            e.to_string(),
            r#"the server answered "220 mail.example ESMTP\r\n", which is not an HTTP response"#
        );
        // A TLS server's alert to a request it cannot read (RFC 8446 §6: type 21).
        assert!(not_an_http_response(&[21, 3, 3, 0, 2, 2, 70]).is_some());
    }

    #[test]
    fn a_tls_record_where_a_request_should_be_is_named() {
        // The record header of a ClientHello (RFC 8446 §5.1: handshake 22, version 3.1).
        let hello = [22u8, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3];
        assert!(
            tls_instead_of_http(&hello[..2]).is_none(),
            "two bytes cannot tell"
        );
        let e = tls_instead_of_http(&hello).unwrap();
        assert!(e.to_string().contains("looks like TLS"), "{e}");
        for n in 0..20 {
            let get = b"GET / HTTP/1.1\r\nHost: x\r\n";
            assert!(tls_instead_of_http(&get[..n]).is_none());
        }
    }
}
