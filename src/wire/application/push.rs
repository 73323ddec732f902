//! The bytes of "server push" over HTTP/1.1: polling requests and their answers, and
//! Server-Sent Events. Pure: no sockets, no clock. `net::push` sends these bytes and
//! `cmd::compare` measures what they cost next to WebSocket frames.
//!
//! | | |
//! |---|---|
//! | OSI | 7 application |
//! | TCP/IP (RFC 1122) | application |
//! | PDU | HTTP message; SSE event (a block of `field: value` lines ending in a blank line) |
//! | standard | RFC 9112 (HTTP/1.1 syntax), WHATWG HTML §9.2 (Server-Sent Events) |
//!
//! ```text
//! client                                   server
//! GET /poll?next=3 HTTP/1.1 ───────────►
//!                         ◄─────────────── HTTP/1.1 200 OK / Content-Length: 64 / body
//! GET /events HTTP/1.1      ───────────►
//!                         ◄─────────────── HTTP/1.1 200 OK / Content-Type: text/event-stream
//!                         ◄─────────────── id: 3\ndata: ...\n\n     (one block per event)
//! ```
//!
//! An event's payload starts with its id as 8 decimal digits, so a receiver can tell
//! which event arrived (and spot a lost or repeated one) from the payload alone.

/// The smallest payload: the 8-digit id.
pub const MIN_PAYLOAD: usize = 8;
/// The largest event id that fits in 8 digits.
pub const MAX_EVENT_ID: u64 = 99_999_999;

/// The payload of event `id`, `len` bytes: the id as 8 digits, then `x` up to `len`.
/// Printable ASCII, so it is valid in an SSE `data:` line and a WebSocket text frame.
pub fn event_payload(id: u64, len: usize) -> Vec<u8> {
    let mut p = format!("{:08}", id % (MAX_EVENT_ID + 1)).into_bytes();
    p.resize(len.max(MIN_PAYLOAD), b'x');
    p
}

/// The id carried by a payload made by [`event_payload`].
pub fn event_id(payload: &[u8]) -> Option<u64> {
    let digits = payload.get(..MIN_PAYLOAD)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A poll request: "give me the events from `next` on". `hold_ms` asks the server to
/// hold the request up to that long when nothing is there yet (long polling).
/// `close` adds `Connection: close` (a new TCP connection per request); without it
/// the connection stays open, HTTP/1.1's default (RFC 9112 §9.3).
pub fn poll_request(host: &str, next: u64, hold_ms: Option<u64>, close: bool) -> Vec<u8> {
    let target = match hold_ms {
        Some(ms) => format!("/poll?next={next}&hold_ms={ms}"),
        None => format!("/poll?next={next}"),
    };
    let mut s =
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netlab\r\nAccept: */*\r\n");
    if close {
        s.push_str("Connection: close\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// What a poll request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollQuery {
    pub next: u64,
    pub hold_ms: Option<u64>,
}

/// Read `/poll?next=N[&hold_ms=M]`; `None` for any other target.
pub fn parse_poll_target(target: &str) -> Option<PollQuery> {
    let query = target.strip_prefix("/poll?")?;
    let mut next = None;
    let mut hold_ms = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=')?;
        match k {
            "next" => next = Some(v.parse().ok()?),
            "hold_ms" => hold_ms = Some(v.parse().ok()?),
            _ => return None,
        }
    }
    Some(PollQuery {
        next: next?,
        hold_ms,
    })
}

/// The head of a poll answer carrying `body_len` bytes of events, or `204 No Content`
/// when there was nothing to send (an "empty poll").
pub fn poll_response_head(body_len: usize, close: bool) -> Vec<u8> {
    let mut s = if body_len == 0 {
        "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n".to_owned()
    } else {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nCache-Control: no-store\r\nContent-Length: {body_len}\r\n"
        )
    };
    if close {
        s.push_str("Connection: close\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// A message from client to server over plain HTTP: one `POST` per message.
pub fn post_request(host: &str, body: &[u8], close: bool) -> Vec<u8> {
    let mut s = format!(
        "POST /messages HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netlab\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        body.len()
    );
    if close {
        s.push_str("Connection: close\r\n");
    }
    s.push_str("\r\n");
    let mut out = s.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The answer to a `POST`: nothing to say but "received".
pub fn post_response_head(close: bool) -> Vec<u8> {
    if close {
        b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_vec()
    } else {
        b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()
    }
}

/// The request that opens an event stream.
pub fn sse_request(host: &str) -> Vec<u8> {
    format!("GET /events HTTP/1.1\r\nHost: {host}\r\nUser-Agent: netlab\r\nAccept: text/event-stream\r\n\r\n")
        .into_bytes()
}

/// The head of an event stream. The body is delimited by the server closing the
/// connection (RFC 9112 §6.3, rule 8), so no chunked framing is added to each event.
pub const SSE_RESPONSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";

/// One SSE event: `id:` and `data:` lines and the blank line that dispatches it.
/// `data` must not contain a line break (payloads from [`event_payload`] never do).
pub fn sse_event(id: u64, data: &[u8]) -> Vec<u8> {
    let mut out = format!("id: {id}\ndata: ").into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    out
}

/// One event read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub data: Vec<u8>,
}

/// Read one event from the front of `buf`: the event and how many bytes it took, or
/// `None` until its blank line has arrived. Lines may end in LF, CR LF or CR (the
/// spec allows all three); only LF endings are recognised here, which is what
/// netlab's server sends.
pub fn parse_sse_event(buf: &[u8]) -> Option<(SseEvent, usize)> {
    let end = buf.windows(2).position(|w| w == b"\n\n")? + 2;
    let mut ev = SseEvent {
        id: None,
        data: Vec::new(),
    };
    let mut first_data = true;
    for line in buf[..end - 2].split(|&b| b == b'\n') {
        // "field: value": one space after the colon is not part of the value.
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if !first_data {
                    ev.data.push(b'\n');
                }
                first_data = false;
                ev.data.extend_from_slice(value);
            }
            b"id" => ev.id = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {} // comments (empty field name), event:, retry: are not used here
        }
    }
    Some((ev, end))
}

/// Packets of one TCP conversation set counted from a capture: what the socket counts
/// leave out (TCP and IP headers, handshakes, ACKs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WireTally {
    /// IP packets (each loopback packet once).
    pub packets: u64,
    /// Bytes of the IP packets: IP header + TCP header + payload (no link-layer header:
    /// Linux loopback's 14-byte Ethernet header is not sent anywhere).
    pub ip_bytes: u64,
    /// TCP payload bytes: what the applications wrote.
    pub tcp_payload: u64,
    /// Segments with SYN and without ACK: connection attempts (three-way handshakes).
    pub syns: u64,
    /// Segments with FIN.
    pub fins: u64,
    /// Segments without payload, SYN or FIN: pure acknowledgements.
    pub pure_acks: u64,
}

impl WireTally {
    /// Count one captured frame, if it is a TCP segment.
    pub fn add(&mut self, d: &crate::wire::dissect::Dissection) {
        let Some(tcp) = d.tcp() else {
            return;
        };
        // The IP packet starts where the link-layer header ends.
        let link_end = d.layers.first().map(|l| l.header.end).unwrap_or(0);
        let ip_len = d.captured_len.saturating_sub(link_end + d.trailer.len());
        self.packets += 1;
        self.ip_bytes += ip_len as u64;
        self.tcp_payload += tcp.payload_len as u64;
        let f = tcp.flags;
        if f.syn() && !f.has(crate::wire::transport::tcp::Flags::ACK) {
            self.syns += 1;
        }
        if f.has(crate::wire::transport::tcp::Flags::FIN) {
            self.fins += 1;
        }
        if tcp.payload_len == 0 && !f.syn() && !f.has(crate::wire::transport::tcp::Flags::FIN) {
            self.pure_acks += 1;
        }
    }

    /// TCP and IP header bytes: everything in the packets but the payload.
    pub fn header_bytes(&self) -> u64 {
        self.ip_bytes - self.tcp_payload.min(self.ip_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::http1::{parse_request, parse_response, Scan};

    #[test]
    fn payload_carries_its_id() {
        let p = event_payload(42, 16);
        assert_eq!(p, b"00000042xxxxxxxx");
        assert_eq!(event_id(&p), Some(42));
        assert_eq!(event_payload(7, 3).len(), MIN_PAYLOAD);
        assert_eq!(event_id(b"0000004"), None);
        assert_eq!(event_id(b"0000004x"), None);
    }

    #[test]
    fn poll_request_parses_as_http() {
        let r = poll_request("127.0.0.1:80", 3, Some(500), true);
        let Scan::Complete { value, head_len } = parse_request(&r, 8192).unwrap() else {
            panic!("complete head expected")
        };
        assert_eq!(head_len, r.len());
        assert!(value.headers.has_token("connection", "close"));
        assert_eq!(
            parse_poll_target(&value.target),
            Some(PollQuery {
                next: 3,
                hold_ms: Some(500)
            })
        );
        assert_eq!(
            parse_poll_target("/poll?next=9"),
            Some(PollQuery {
                next: 9,
                hold_ms: None
            })
        );
        for bad in ["/events", "/poll?", "/poll?next=x", "/poll?next=1&what=2"] {
            assert_eq!(parse_poll_target(bad), None, "{bad}");
        }
    }

    #[test]
    fn empty_and_full_poll_answers() {
        let empty = poll_response_head(0, false);
        let Scan::Complete { value, .. } = parse_response(&empty, 8192).unwrap() else {
            panic!()
        };
        assert_eq!(value.status, 204);
        let full = poll_response_head(64, true);
        let Scan::Complete { value, head_len } = parse_response(&full, 8192).unwrap() else {
            panic!()
        };
        assert_eq!(head_len, full.len());
        assert_eq!(value.headers.get("content-length"), Some("64"));
        assert!(value.headers.has_token("connection", "close"));
    }

    #[test]
    fn sse_round_trip_and_partial_input() {
        let mut stream = SSE_RESPONSE_HEAD.to_vec();
        let head_len = stream.len();
        let e1 = sse_event(1, b"00000001xx");
        let e2 = sse_event(2, b"00000002xx");
        assert_eq!(e1, b"id: 1\ndata: 00000001xx\n\n");
        stream.extend_from_slice(&e1);
        stream.extend_from_slice(&e2);
        let body = &stream[head_len..];
        for n in 0..e1.len() {
            assert_eq!(parse_sse_event(&body[..n]), None, "{n}");
        }
        let (ev, used) = parse_sse_event(body).unwrap();
        assert_eq!(
            (ev.id.as_deref(), ev.data.as_slice()),
            (Some("1"), &b"00000001xx"[..])
        );
        let (ev, used2) = parse_sse_event(&body[used..]).unwrap();
        assert_eq!(ev.data, b"00000002xx");
        assert_eq!(used + used2, body.len());
    }

    #[test]
    fn post_request_carries_its_body() {
        let r = post_request("h", b"00000001", true);
        let Scan::Complete { value, head_len } = parse_request(&r, 8192).unwrap() else {
            panic!()
        };
        assert_eq!(value.method, "POST");
        assert_eq!(value.headers.get("content-length"), Some("8"));
        assert_eq!(&r[head_len..], b"00000001");
        let Scan::Complete { value, .. } = parse_response(&post_response_head(false), 99).unwrap()
        else {
            panic!()
        };
        assert_eq!(value.status, 204);
    }

    #[test]
    fn sse_multi_line_data_and_comments() {
        let (ev, _) = parse_sse_event(b": comment\ndata:a\ndata: b\n\n").unwrap();
        assert_eq!(ev.data, b"a\nb");
        assert_eq!(ev.id, None);
    }

    /// A Linux `lo` frame: zero MACs, IPv4 127.0.0.1 → 127.0.0.1, TCP 40000 → 8080 with
    /// `flags` and `payload` (checksums left zero: counting does not depend on them).
    fn lo_tcp_frame(flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]); // EtherType IPv4
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0x00]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&8080u16.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn wire_tally_counts_headers_handshakes_and_acks() {
        use crate::wire::dissect::{dissect, LinkType};
        let mut t = WireTally::default();
        for (flags, payload) in [
            (0x02, &b""[..]), // SYN
            (0x12, b""),      // SYN-ACK
            (0x10, b""),      // ACK
            (0x18, b"hello"), // PSH-ACK with 5 B
            (0x11, b""),      // FIN-ACK
        ] {
            t.add(&dissect(LinkType::Ethernet, &lo_tcp_frame(flags, payload)));
        }
        assert_eq!(
            t,
            WireTally {
                packets: 5,
                ip_bytes: 5 * 40 + 5,
                tcp_payload: 5,
                syns: 1,
                fins: 1,
                pure_acks: 1,
            }
        );
        assert_eq!(t.header_bytes(), 200);
    }
}
