//! Long-polling payloads: the body of a polling GET's answer or of a POST.
//!
//! ```text
//!  payload = packet *( %x1E packet )        the record separator, ASCII 30
//!
//!  4hello␞bAQID␞2    =  message "hello", binary message 01 02 03, ping
//! ```
//!
//! The body is text (`Content-Type: text/plain; charset=UTF-8`), so a binary message
//! travels as `b` + base64. The separator cannot appear in base64, but it can appear in
//! a text message: Engine.IO does not escape it, so a text message must not hold
//! `0x1e` if it is to cross long-polling intact.

use super::packet::{Packet, PacketError};
use serde::Serialize;

/// The record separator between packets.
pub const SEPARATOR: char = '\u{1e}';

/// How much one payload may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PayloadLimits {
    /// The largest body in bytes (the open packet's `maxPayload`; the reference
    /// server's `maxHttpBufferSize`, 1 000 000 by default).
    pub max_bytes: usize,
    /// The most packets in one body.
    pub max_packets: usize,
}

impl Default for PayloadLimits {
    fn default() -> Self {
        PayloadLimits {
            max_bytes: 1_000_000,
            max_packets: 10_000,
        }
    }
}

/// Why a payload could not be read. The reference server delivers the packets before
/// a bad one and then closes the session ("parse error"); netlab refuses the payload
/// as a whole and closes the session the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PayloadError {
    #[error("an empty payload: a body holds at least one packet")]
    Empty,
    #[error("a payload of {len} bytes exceeds maxPayload ({max} bytes)")]
    TooLarge { len: usize, max: usize },
    #[error("a payload of more than {max} packets")]
    TooManyPackets { max: usize },
    #[error("a payload that is not UTF-8 text (binary travels as b + base64)")]
    NotUtf8,
    #[error("packet {index} of the payload: {error}")]
    Packet { index: usize, error: PacketError },
}

/// Read a long-polling body into its packets, within `limits`.
pub fn decode_payload(body: &[u8], limits: PayloadLimits) -> Result<Vec<Packet>, PayloadError> {
    if body.len() > limits.max_bytes {
        return Err(PayloadError::TooLarge {
            len: body.len(),
            max: limits.max_bytes,
        });
    }
    if body.is_empty() {
        return Err(PayloadError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| PayloadError::NotUtf8)?;
    let mut packets = Vec::new();
    for (index, piece) in text.split(SEPARATOR).enumerate() {
        if index >= limits.max_packets {
            return Err(PayloadError::TooManyPackets {
                max: limits.max_packets,
            });
        }
        let packet =
            Packet::decode_text(piece).map_err(|error| PayloadError::Packet { index, error })?;
        packets.push(packet);
    }
    Ok(packets)
}

/// Write packets as one long-polling body.
pub fn encode_payload<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> String {
    let mut out = String::new();
    for (i, p) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        p.encode_text(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::application::engineio::packet::Message;

    #[test]
    fn the_reference_parsers_payload() {
        // engine.io-parser 5.2 encodePayload([message "hello", binary 01 02 03 04, ping]),
        // captured with node 20.
        let captured = "4hello\u{1e}bAQIDBA==\u{1e}2";
        let packets = vec![
            Packet::text("hello"),
            Packet::binary([1, 2, 3, 4]),
            Packet::Ping(String::new()),
        ];
        assert_eq!(encode_payload(&packets), captured);
        assert_eq!(
            decode_payload(captured.as_bytes(), PayloadLimits::default()),
            Ok(packets)
        );
    }

    #[test]
    fn a_post_the_reference_server_accepted() {
        // A POST body the reference server (engine.io 6.6) accepted ("ok") and echoed back
        // byte for byte in its answer to the next GET, captured with node 20.
        let body = b"4hello\x1ebAQID";
        let got = decode_payload(body, PayloadLimits::default()).unwrap();
        assert_eq!(
            got,
            vec![
                Packet::Message(Message::Text("hello".into())),
                Packet::binary([1, 2, 3])
            ]
        );
    }

    #[test]
    fn names_each_malformed_payload() {
        let limits = PayloadLimits {
            max_bytes: 16,
            max_packets: 3,
        };
        assert_eq!(decode_payload(b"", limits), Err(PayloadError::Empty));
        assert_eq!(
            decode_payload(b"4aaaaaaaaaaaaaaaa", limits),
            Err(PayloadError::TooLarge { len: 17, max: 16 })
        );
        assert_eq!(
            decode_payload(b"6\x1e6\x1e6\x1e6", limits),
            Err(PayloadError::TooManyPackets { max: 3 })
        );
        assert_eq!(decode_payload(b"4\xff", limits), Err(PayloadError::NotUtf8));
        // What the reference server calls "parse error": an unknown type after a good packet.
        assert_eq!(
            decode_payload(b"4hi\x1ex\x1e4no", limits),
            Err(PayloadError::Packet {
                index: 1,
                error: PacketError::UnknownType { found: 'x' }
            })
        );
        assert_eq!(
            decode_payload(b"4hi\x1e", limits),
            Err(PayloadError::Packet {
                index: 1,
                error: PacketError::Empty
            })
        );
        assert_eq!(
            decode_payload(b"b=", limits),
            Err(PayloadError::Packet {
                index: 0,
                error: PacketError::BadBase64
            })
        );
    }

    #[test]
    fn every_prefix_of_a_payload_is_read_or_refused_without_panic() {
        let body = "4héllo\u{1e}bAQIDBA==\u{1e}2probe\u{1e}6".as_bytes();
        for end in 0..=body.len() {
            let _ = decode_payload(&body[..end], PayloadLimits::default());
        }
    }
}
