//! RESP, the Redis serialization protocol (version 2), sans I/O: how a client's commands
//! and a server's replies travel over one TCP connection.
//!
//! | | |
//! |---|---|
//! | OSI | 7 application |
//! | TCP/IP (RFC 1122) | application |
//! | PDU | a *frame* (Redis calls it a reply, or a command when a client sends it) |
//! | standard | the Redis protocol specification ("RESP2"), redis.io |
//!
//! Every frame starts with one byte saying what it is and ends its header with CRLF:
//!
//! ```text
//!  +OK\r\n                         simple string  (a status)
//!  -ERR unknown command\r\n        error
//!  :3\r\n                          integer
//!  $5\r\nhello\r\n                 bulk string: a length, then that many bytes (binary-safe)
//!  $-1\r\n                         the null bulk string (no value)
//!  *2\r\n$3\r\nGET\r\n$1\r\nk\r\n  array: a count, then that many frames
//! ```
//!
//! A client sends each command as an array of bulk strings ([`command`]); the server
//! answers each command with one frame, in order. A connection that has subscribed
//! ([`PubSub`]) receives *pushes* instead: arrays such as
//! `["message", channel, payload]` whenever someone publishes.
//!
//! [`Frame::parse`] reads one frame from the start of a buffer that may not hold all of it
//! yet (then it answers `Ok(None)`: read more and call again), within [`Limits`].

use std::fmt;

/// One RESP2 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `None`: the null bulk string `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `None`: the null array `*-1`.
    Array(Option<Vec<Frame>>),
}

/// How large a frame netlab accepts: a peer cannot make it allocate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string (Redis's own default `proto-max-bulk-len` is 512 MB).
    pub max_bulk: usize,
    /// The most elements of one array.
    pub max_array: usize,
    /// How deep arrays may nest.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bulk: 64 << 20,
            max_array: 1 << 16,
            max_depth: 8,
        }
    }
}

/// A rule of RESP that the bytes broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    #[error("unknown frame type {found:#04x}: a frame starts with one of + - : $ *")]
    UnknownType { found: u8 },
    #[error("a header line that does not end with CRLF")]
    BadLineEnd,
    #[error("a simple string or error that is not UTF-8")]
    NotUtf8,
    #[error("an integer, length or count that is not a decimal number")]
    BadNumber,
    #[error("a negative length or count other than -1 (the null value)")]
    NegativeLength,
    #[error("a bulk string of {len} bytes; at most {max} are accepted")]
    BulkTooLarge { len: usize, max: usize },
    #[error("an array of {len} elements; at most {max} are accepted")]
    ArrayTooLong { len: usize, max: usize },
    #[error("arrays nested deeper than {max}")]
    TooDeep { max: usize },
    #[error("a bulk string not followed by CRLF")]
    BulkWithoutCrlf,
}

/// The longest header line (a type byte, a number, CRLF) worth waiting for.
const MAX_LINE: usize = 64;

/// The longest simple string or error line: Redis's error answers run past a hundred
/// bytes (`-ERR The ID specified in XADD is equal or smaller than …`).
const MAX_TEXT: usize = 4096;

/// The bytes of a command: an array of bulk strings (`SUBSCRIBE chan` is
/// `*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nchan\r\n`).
pub fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Frame {
    /// Read one frame from the start of `buf`: `Ok(Some((frame, used)))`, or `Ok(None)`
    /// when `buf` holds only part of it.
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Frame, usize)>, RespError> {
        parse_at(buf, limits, 0)
    }

    /// The bytes of this frame.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => out.extend_from_slice(format!("+{s}\r\n").as_bytes()),
            Frame::Error(s) => out.extend_from_slice(format!("-{s}\r\n").as_bytes()),
            Frame::Integer(n) => out.extend_from_slice(format!(":{n}\r\n").as_bytes()),
            Frame::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Frame::Bulk(Some(b)) => {
                out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(Some(items)) => {
                out.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
                items.iter().for_each(|f| f.write(out));
            }
        }
    }

    /// The bytes of a bulk string or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Bulk(Some(b)) => Some(b),
            Frame::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
}

/// One header line (after the type byte, before CRLF), or `None` if not all there yet.
fn line(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, RespError> {
    let Some(cr) = buf.iter().take(max).position(|&b| b == b'\r') else {
        return if buf.len() >= max {
            Err(RespError::BadLineEnd)
        } else {
            Ok(None)
        };
    };
    match buf.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((&buf[..cr], cr + 2))),
        Some(_) => Err(RespError::BadLineEnd),
    }
}

fn number(digits: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RespError::BadNumber)
}

/// A length or count: `None` for -1 (the null value).
fn length(digits: &[u8]) -> Result<Option<usize>, RespError> {
    match number(digits)? {
        -1 => Ok(None),
        n if n < 0 => Err(RespError::NegativeLength),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| RespError::BadNumber),
    }
}

fn parse_at(
    buf: &[u8],
    limits: &Limits,
    depth: usize,
) -> Result<Option<(Frame, usize)>, RespError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let max = if matches!(kind, b'+' | b'-') {
        MAX_TEXT
    } else {
        MAX_LINE
    };
    let Some((head, used)) = line(&buf[1..], max)? else {
        return Ok(None);
    };
    let used = used + 1;
    let text = || String::from_utf8(head.to_vec()).map_err(|_| RespError::NotUtf8);
    let frame = match kind {
        b'+' => Frame::Simple(text()?),
        b'-' => Frame::Error(text()?),
        b':' => Frame::Integer(number(head)?),
        b'$' => return bulk(buf, used, length(head)?, limits),
        b'*' => return array(buf, used, length(head)?, limits, depth),
        found => return Err(RespError::UnknownType { found }),
    };
    Ok(Some((frame, used)))
}

fn bulk(
    buf: &[u8],
    start: usize,
    len: Option<usize>,
    limits: &Limits,
) -> Result<Option<(Frame, usize)>, RespError> {
    let Some(len) = len else {
        return Ok(Some((Frame::Bulk(None), start)));
    };
    if len > limits.max_bulk {
        return Err(RespError::BulkTooLarge {
            len,
            max: limits.max_bulk,
        });
    }
    let end = start + len;
    let Some(tail) = buf.get(end..end + 2) else {
        return Ok(None);
    };
    if tail != b"\r\n" {
        return Err(RespError::BulkWithoutCrlf);
    }
    Ok(Some((Frame::Bulk(Some(buf[start..end].to_vec())), end + 2)))
}

fn array(
    buf: &[u8],
    start: usize,
    len: Option<usize>,
    limits: &Limits,
    depth: usize,
) -> Result<Option<(Frame, usize)>, RespError> {
    let Some(len) = len else {
        return Ok(Some((Frame::Array(None), start)));
    };
    if len > limits.max_array {
        return Err(RespError::ArrayTooLong {
            len,
            max: limits.max_array,
        });
    }
    if depth >= limits.max_depth {
        return Err(RespError::TooDeep {
            max: limits.max_depth,
        });
    }
    // Capacity grows with what arrives, not with what the count claims.
    let mut items = Vec::new();
    let mut at = start;
    for _ in 0..len {
        match parse_at(&buf[at..], limits, depth + 1)? {
            Some((item, used)) => {
                items.push(item);
                at += used;
            }
            None => return Ok(None),
        }
    }
    Ok(Some((Frame::Array(Some(items)), at)))
}

/// What a subscribed connection receives (Redis "Pub/Sub": SUBSCRIBE, PSUBSCRIBE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PubSub {
    /// `["message", channel, payload]`: published on a channel subscribed by name.
    Message { channel: Vec<u8>, payload: Vec<u8> },
    /// `["pmessage", pattern, channel, payload]`: on a channel matching a pattern.
    PatternMessage {
        pattern: Vec<u8>,
        channel: Vec<u8>,
        payload: Vec<u8>,
    },
    /// `["subscribe" | "psubscribe" | .., channel, count]`: the server confirms; `count`
    /// is how many subscriptions the connection now has.
    Confirmed {
        kind: String,
        channel: Vec<u8>,
        count: i64,
    },
}

impl PubSub {
    /// Read a push from a frame, or `None` if the frame is not one.
    pub fn from_frame(frame: &Frame) -> Option<PubSub> {
        let Frame::Array(Some(items)) = frame else {
            return None;
        };
        let bytes = |i: usize| items.get(i).and_then(Frame::as_bytes).map(<[u8]>::to_vec);
        let kind = String::from_utf8(bytes(0)?).ok()?;
        match (kind.as_str(), items.len()) {
            ("message", 3) => Some(PubSub::Message {
                channel: bytes(1)?,
                payload: bytes(2)?,
            }),
            ("pmessage", 4) => Some(PubSub::PatternMessage {
                pattern: bytes(1)?,
                channel: bytes(2)?,
                payload: bytes(3)?,
            }),
            (_, 3) => match items.get(2) {
                Some(Frame::Integer(count)) => Some(PubSub::Confirmed {
                    channel: bytes(1)?,
                    count: *count,
                    kind,
                }),
                _ => None,
            },
            _ => None,
        }
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Simple(s) => write!(f, "+{s}"),
            Frame::Error(s) => write!(f, "-{s}"),
            Frame::Integer(n) => write!(f, ":{n}"),
            Frame::Bulk(None) | Frame::Array(None) => f.write_str("(nil)"),
            Frame::Bulk(Some(b)) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Frame::Array(Some(items)) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Option<(Frame, usize)>, RespError> {
        Frame::parse(bytes, &Limits::default())
    }

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Some(s.as_bytes().to_vec()))
    }

    #[test]
    fn a_command_is_an_array_of_bulk_strings() {
        // The bytes redis-cli sends for `PUBLISH socket.io#/# hi`.
        let bytes = command(&[b"PUBLISH", b"socket.io#/#", b"hi"]);
        assert_eq!(
            bytes,
            b"*3\r\n$7\r\nPUBLISH\r\n$12\r\nsocket.io#/#\r\n$2\r\nhi\r\n"
        );
        let (frame, used) = parse(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(
            frame,
            Frame::Array(Some(vec![
                bulk("PUBLISH"),
                bulk("socket.io#/#"),
                bulk("hi")
            ]))
        );
    }

    #[test]
    fn a_long_error_answer_is_one_frame() {
        // What Redis 7.0 answered to `XADD s 0-1 …` once the stream held 0-1.
        let bytes: &[u8] =
            b"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n";
        let (frame, used) = parse(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert!(matches!(frame, Frame::Error(e) if e.ends_with("top item")));
        // A number's line stays short: a peer cannot make netlab wait on a long one.
        assert_eq!(parse(&[b':'; 70]), Err(RespError::BadLineEnd));
    }

    #[test]
    fn every_type_both_ways() {
        let cases: [(&[u8], Frame); 7] = [
            (b"+OK\r\n", Frame::Simple("OK".into())),
            (
                b"-ERR unknown command\r\n",
                Frame::Error("ERR unknown command".into()),
            ),
            (b":-42\r\n", Frame::Integer(-42)),
            (b"$0\r\n\r\n", bulk("")),
            (b"$-1\r\n", Frame::Bulk(None)),
            (b"*-1\r\n", Frame::Array(None)),
            (b"$4\r\na\r\nb\r\n", bulk("a\r\nb")),
        ];
        for (bytes, frame) in cases {
            assert_eq!(parse(bytes).unwrap(), Some((frame.clone(), bytes.len())));
            let mut out = Vec::new();
            frame.write(&mut out);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn every_prefix_of_a_frame_asks_for_more() {
        // A pmessage push as redis-server 7 sent it to a PSUBSCRIBE socket.io#/#*.
        let push: &[u8] =
            b"*4\r\n$8\r\npmessage\r\n$13\r\nsocket.io#/#*\r\n$12\r\nsocket.io#/#\r\n$3\r\n\x93\xa1x\r\n";
        for end in 0..push.len() {
            assert_eq!(parse(&push[..end]).unwrap(), None, "prefix of {end} bytes");
        }
        let (frame, used) = parse(push).unwrap().unwrap();
        assert_eq!(used, push.len());
        assert_eq!(
            PubSub::from_frame(&frame),
            Some(PubSub::PatternMessage {
                pattern: b"socket.io#/#*".to_vec(),
                channel: b"socket.io#/#".to_vec(),
                payload: b"\x93\xa1x".to_vec(),
            })
        );
    }

    #[test]
    fn subscribe_confirmations_and_messages() {
        let confirm = b"*3\r\n$9\r\nsubscribe\r\n$20\r\nsocket.io-request#/#\r\n:1\r\n";
        let (frame, _) = parse(confirm).unwrap().unwrap();
        assert_eq!(
            PubSub::from_frame(&frame),
            Some(PubSub::Confirmed {
                kind: "subscribe".into(),
                channel: b"socket.io-request#/#".to_vec(),
                count: 1
            })
        );
        let message = b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\n{}\r\n";
        let (frame, _) = parse(message).unwrap().unwrap();
        assert_eq!(
            PubSub::from_frame(&frame),
            Some(PubSub::Message {
                channel: b"c".to_vec(),
                payload: b"{}".to_vec()
            })
        );
        assert_eq!(PubSub::from_frame(&Frame::Integer(1)), None);
    }

    #[test]
    fn broken_rules_are_named() {
        let limits = Limits {
            max_bulk: 4,
            max_array: 2,
            max_depth: 2,
        };
        let cases: [(&[u8], RespError); 8] = [
            (b"!x\r\n", RespError::UnknownType { found: b'!' }),
            (b"+OK\rX", RespError::BadLineEnd),
            (b":12a\r\n", RespError::BadNumber),
            (b"$-2\r\n", RespError::NegativeLength),
            (b"$5\r\n", RespError::BulkTooLarge { len: 5, max: 4 }),
            (b"*3\r\n", RespError::ArrayTooLong { len: 3, max: 2 }),
            (b"*1\r\n*1\r\n*1\r\n:1\r\n", RespError::TooDeep { max: 2 }),
            (b"$2\r\nabcd", RespError::BulkWithoutCrlf),
        ];
        for (bytes, error) in cases {
            assert_eq!(Frame::parse(bytes, &limits), Err(error), "{bytes:?}");
        }
        // A header line that never ends is refused once it is longer than any valid one.
        assert_eq!(parse(&[b':'; 100]), Err(RespError::BadLineEnd));
    }
}
