//! HTTP/1.x message heads (RFC 9112 §2–§5), read with a size limit.
//!
//! | | |
//! |---|---|
//! | OSI | 7 application |
//! | TCP/IP (RFC 1122) | application |
//! | PDU | message (start line + header fields + blank line, then an optional body) |
//! | standard | RFC 9112 (syntax), RFC 9110 (semantics) |
//!
//! ```text
//! GET /chat HTTP/1.1\r\n          ← request line: method, target, version
//! Host: example.com\r\n           ← header fields: name ":" value
//! Upgrade: websocket\r\n
//! \r\n                            ← an empty line ends the head
//! ```
//!
//! A head is scanned only once the blank line that ends it has arrived, and never past
//! `limit` bytes, so a peer that sends an endless header cannot make us buffer without
//! bound. The field syntax is checked by `httparse` (a small, widely fuzzed parser);
//! this module owns the framing (where the head ends, how big it may be) and turns the
//! result into owned, case-insensitive headers.

use serde::Serialize;

/// The default limit on a head's size: 8 KiB, as many servers use.
pub const DEFAULT_HEAD_LIMIT: usize = 8 * 1024;
/// At most this many header fields are accepted.
pub const MAX_HEADERS: usize = 64;

/// Why a head could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("the HTTP head is larger than {limit} bytes without an empty line ending it")]
    TooLarge { limit: usize },
    #[error("the HTTP head is malformed: {0}")]
    Syntax(String),
}

/// The outcome of scanning a buffer for a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan<T> {
    /// The head is complete; it took `head_len` bytes (including the blank line).
    Complete { value: T, head_len: usize },
    /// The blank line has not arrived yet: read more bytes and try again.
    NeedMore,
}

/// One header field, as sent (name case preserved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Header fields with case-insensitive lookup (field names are case-insensitive, RFC 9110 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every value of `name`, in order (a field may be repeated).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Does any comma-separated element of any `name` field equal `token` (case-insensitive)?
    /// `Connection: keep-alive, Upgrade` contains the token `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push(Header {
            name: name.to_owned(),
            value: value.into(),
        });
    }
}

/// A request head: `GET /chat HTTP/1.1` and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    /// The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    pub headers: Headers,
}

/// A response head: `HTTP/1.1 101 Switching Protocols` and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseHead {
    pub minor_version: u8,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
}

/// Where the head ends: the index just past the first `\r\n\r\n`, if present.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Check the framing: the end of the head within `limit`, or a reason to stop.
fn frame(buf: &[u8], limit: usize) -> Result<Option<usize>, HeadError> {
    match head_end(&buf[..buf.len().min(limit)]) {
        Some(end) => Ok(Some(end)),
        None if buf.len() >= limit => Err(HeadError::TooLarge { limit }),
        None => Ok(None),
    }
}

fn owned_headers(raw: &[httparse::Header<'_>]) -> Result<Headers, HeadError> {
    raw.iter()
        .map(|h| {
            let value = std::str::from_utf8(h.value)
                .map_err(|_| HeadError::Syntax(format!("the value of {} is not UTF-8", h.name)))?;
            Ok(Header {
                name: h.name.to_owned(),
                value: value.trim().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Headers)
}

/// Read a request head from the start of `buf`, looking at no more than `limit` bytes.
pub fn parse_request(buf: &[u8], limit: usize) -> Result<Scan<RequestHead>, HeadError> {
    let Some(end) = frame(buf, limit)? else {
        return Ok(Scan::NeedMore);
    };
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    match req.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HeadError::Syntax("the head ended early".into()))
        }
        Err(e) => return Err(HeadError::Syntax(e.to_string())),
    }
    // After Complete, httparse has filled every field (an invariant of its API).
    let value = RequestHead {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        minor_version: req.version.unwrap_or_default(),
        headers: owned_headers(req.headers)?,
    };
    Ok(Scan::Complete {
        value,
        head_len: end,
    })
}

/// Read a response head from the start of `buf`, looking at no more than `limit` bytes.
pub fn parse_response(buf: &[u8], limit: usize) -> Result<Scan<ResponseHead>, HeadError> {
    let Some(end) = frame(buf, limit)? else {
        return Ok(Scan::NeedMore);
    };
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut raw);
    match resp.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(HeadError::Syntax("the head ended early".into()))
        }
        Err(e) => return Err(HeadError::Syntax(e.to_string())),
    }
    let value = ResponseHead {
        minor_version: resp.version.unwrap_or_default(),
        status: resp.code.unwrap_or_default(),
        reason: resp.reason.unwrap_or_default().to_owned(),
        headers: owned_headers(resp.headers)?,
    };
    Ok(Scan::Complete {
        value,
        head_len: end,
    })
}

/// Why a chunked body (RFC 9112 §7.1) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    #[error("a chunk size that is not a hexadecimal number (RFC 9112 §7.1): {0:?}")]
    BadSize(String),
    #[error("a chunked body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("chunk data not followed by CRLF (RFC 9112 §7.1)")]
    NoCrlf,
}

/// Read a body in the chunked transfer coding (RFC 9112 §7.1) from the start of `buf`:
/// `Some((body, bytes used))` once the last chunk and the trailer section are there,
/// `None` while more bytes are needed. Chunk extensions and trailer fields are skipped.
///
/// ```text
///   5\r\nhello\r\n  0\r\n  \r\n     →  "hello"
/// ```
pub fn parse_chunked(buf: &[u8], limit: usize) -> Result<Option<(Vec<u8>, usize)>, ChunkedError> {
    let line_at = |at: usize| buf[at..].windows(2).position(|w| w == b"\r\n");
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = line_at(at) else {
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = String::from_utf8_lossy(size_text).trim().to_owned();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| ChunkedError::BadSize(size_text.clone()))?;
        at += eol + 2;
        if size == 0 {
            // The trailer section: field lines up to an empty line.
            loop {
                let Some(eol) = line_at(at) else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        if size > limit.saturating_sub(body.len()) {
            return Err(ChunkedError::TooLarge { limit });
        }
        let Some(data) = buf.get(at..at + size + 2) else {
            return Ok(None);
        };
        if &data[size..] != b"\r\n" {
            return Err(ChunkedError::NoCrlf);
        }
        body.extend_from_slice(&data[..size]);
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nConnection: keep-alive, Upgrade\r\nX: 1\r\nx: 2\r\n\r\nrest";

    #[test]
    fn request_head_and_what_follows() {
        let Scan::Complete { value, head_len } = parse_request(REQ, 8192).unwrap() else {
            panic!("complete head expected");
        };
        assert_eq!(&REQ[head_len..], b"rest");
        assert_eq!(
            (value.method.as_str(), value.target.as_str()),
            ("GET", "/chat")
        );
        assert_eq!(value.minor_version, 1);
        assert_eq!(value.headers.get("HOST"), Some("server.example.com"));
        assert!(value.headers.has_token("connection", "upgrade"));
        assert_eq!(value.headers.get_all("x").collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn every_prefix_asks_for_more() {
        let end = REQ.len() - 4;
        for n in 0..end {
            assert_eq!(parse_request(&REQ[..n], 8192), Ok(Scan::NeedMore), "{n}");
        }
    }

    #[test]
    fn a_head_over_the_limit_is_refused() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 100));
        assert_eq!(
            parse_request(&big, 64),
            Err(HeadError::TooLarge { limit: 64 })
        );
        assert_eq!(parse_request(&big, 1000), Ok(Scan::NeedMore));
    }

    #[test]
    fn garbage_is_a_syntax_error() {
        assert!(matches!(
            parse_request(b"\x00\x01 nonsense\r\n\r\n", 100),
            Err(HeadError::Syntax(_))
        ));
    }

    #[test]
    fn response_head() {
        let r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let Scan::Complete { value, head_len } = parse_response(r, 8192).unwrap() else {
            panic!()
        };
        assert_eq!(head_len, r.len());
        assert_eq!(value.status, 101);
        assert_eq!(value.reason, "Switching Protocols");
        assert_eq!(value.headers.get("upgrade"), Some("websocket"));
    }

    #[test]
    fn rfc9112_7_1_chunked_body() {
        // What node 20 sent for engine.io's 400 (its JSON in one chunk).
        let wire = b"28\r\n{\"code\":0,\"message\":\"Transport unknown\"}\r\n0\r\n\r\nNEXT";
        let (body, used) = parse_chunked(wire, 1000).unwrap().unwrap();
        assert_eq!(body, br#"{"code":0,"message":"Transport unknown"}"#);
        assert_eq!(&wire[used..], b"NEXT");
        // Extensions and trailers are skipped; two chunks join.
        let wire = b"3;x=y\r\nabc\r\n1\r\nd\r\n0\r\nT: v\r\n\r\n";
        assert_eq!(parse_chunked(wire, 1000).unwrap().unwrap().0, b"abcd");
        for n in 0..wire.len() {
            assert_eq!(parse_chunked(&wire[..n], 1000), Ok(None), "prefix of {n}");
        }
        assert!(matches!(
            parse_chunked(b"zz\r\n", 10),
            Err(ChunkedError::BadSize(_))
        ));
        assert_eq!(
            parse_chunked(b"b\r\n", 10),
            Err(ChunkedError::TooLarge { limit: 10 })
        );
        assert_eq!(parse_chunked(b"1\r\nab\r\n", 10), Err(ChunkedError::NoCrlf));
        assert!(parse_chunked(b"ffffffffffffffffffff\r\n", 10).is_err());
    }
}
