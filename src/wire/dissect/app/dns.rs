//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766 §8): on a connection to port 53, every DNS
//! message follows a two-byte length, from the first byte on, in both directions.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     length (bytes that follow)|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   message: header, question,  |
//! /   answer, authority, additional
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Over UDP there is no prefix: the datagram is the message (RFC 1035 §4.2.1), so
//! [`super::AppDecoder::dns_datagram`] reads one datagram at a time. The message itself is
//! read by `wire::application::dns`; a message it cannot read becomes a note, and the next length is
//! read after it, so one bad message does not stop the conversation.

use super::{AppEvent, AppMessage, Registration, Step, Stream, StreamDecoder};
use crate::layers::Protocol;
use crate::wire::application::dns::{Repr, PORT};
use crate::wire::dissect::flow::{Direction, Transport};

/// A TCP conversation with port 53 on either end carries DNS.
pub(super) const OVER_TCP: Registration = Registration {
    claims: |a, b| a == PORT || b == PORT,
    start: |_| {
        Box::new(DnsOverTcp {
            stopped: [false; 2],
        })
    },
};

/// Bytes before a DNS message in its stream: over TCP its 2-byte length (RFC 1035
/// §4.2.2), over UDP none.
pub(super) fn prefix_len(transport: Transport) -> u64 {
    if transport == Transport::Tcp {
        2
    } else {
        0
    }
}

/// The event for one DNS message (`msg` without its length prefix) at stream offset
/// `offset` (where its prefix starts, over TCP).
pub(super) fn event(dir: Direction, offset: u64, transport: Transport, msg: &[u8]) -> AppEvent {
    let length = u16::try_from(msg.len()).unwrap_or(u16::MAX);
    let message = match Repr::parse_partial(msg) {
        Ok(r) => AppMessage::Dns {
            transport,
            length,
            summary: r.to_string(),
            message: Box::new(r),
        },
        Err(e) => AppMessage::Note {
            text: format!("{length} bytes where a DNS message was expected: {e}"),
        },
    };
    AppEvent {
        direction: dir,
        offset,
        end: offset + prefix_len(transport) + msg.len() as u64,
        message,
        payload: None,
    }
}

/// Length-prefixed DNS messages in both directions of one TCP connection.
#[derive(Debug)]
struct DnsOverTcp {
    /// Indexed by [`Direction`]: decoding stopped (after a gap, or too many bytes).
    stopped: [bool; 2],
}

impl DnsOverTcp {
    /// One length-prefixed message, when all its bytes are here.
    fn message(dir: Direction, s: &mut Stream, out: &mut Vec<AppEvent>) -> Step {
        let [hi, lo, ..] = s.buf[..] else {
            return Step::NeedMore;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if s.buf.len() < 2 + len {
            return Step::NeedMore;
        }
        out.push(event(dir, s.at, Transport::Tcp, &s.buf[2..2 + len]));
        s.consume(2 + len);
        Step::Progress
    }
}

impl StreamDecoder for DnsOverTcp {
    fn run(&mut self, dir: Direction, streams: &mut [Stream; 2], out: &mut Vec<AppEvent>) {
        if self.stopped[dir as usize] {
            return;
        }
        let s = &mut streams[dir as usize];
        // Bounded: every message consumes at least its two-byte prefix.
        while Self::message(dir, s, out) == Step::Progress {}
    }

    fn stop(&mut self, dir: Direction) -> bool {
        !std::mem::replace(&mut self.stopped[dir as usize], true)
    }

    fn stopped(&self, dir: Direction) -> bool {
        self.stopped[dir as usize]
    }

    /// Never: a packet carrying the first part of a DNS message is not marked as
    /// continued (unlike HTTP and WebSocket); the message shows on the packet that
    /// completes it.
    fn holding(&self, _: Direction, _: &Stream) -> Option<Protocol> {
        None
    }

    fn finish(&mut self, _: &[Stream; 2], _: &mut Vec<AppEvent>) {
        self.stopped = [true; 2];
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::dissect::app::testing::decode;
    use crate::wire::dissect::app::*;

    #[test]
    fn dns_over_tcp_is_length_prefixed_however_tcp_cut_it() {
        // RFC 7766 §8: two messages back to back in one stream, each after its length.
        let q = crate::wire::application::dns::tests::QUERY_WWW_A;
        let mut stream = Vec::new();
        for _ in 0..2 {
            stream.extend_from_slice(&(q.len() as u16).to_be_bytes());
            stream.extend_from_slice(&q);
        }
        stream.extend_from_slice(&[0x00, 0x05, 1, 2, 3, 4, 5]); // too short for a header
        for step in [0, 1, 2, 3, 7, 58] {
            let mut d = AppDecoder::for_ports(1 << 16, 40000, 53);
            let mut out = Vec::new();
            let n = if step == 0 { stream.len() } else { step };
            for (k, c) in stream.chunks(n).enumerate() {
                let offset = (k * n) as u64;
                d.piece(Direction::AToB, Piece::Data { offset, bytes: c }, &mut out);
            }
            assert_eq!(out.len(), 3, "step {step}");
            let AppMessage::Dns {
                length,
                ref summary,
                ..
            } = out[1].message
            else {
                panic!("DNS expected")
            };
            assert_eq!((length, out[1].offset), (57, 59));
            assert_eq!(summary, "Standard query 0xa812 A www.example.test");
            assert!(matches!(out[2].message, AppMessage::Note { .. }));
        }
        // Without port 53, the same bytes are not taken for DNS.
        assert!(decode(&[(Direction::AToB, stream)], 0).is_empty());
    }
}
