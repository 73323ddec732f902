//! Engine.IO packets: a type digit, then the data.
//!
//! ```text
//!  type  name     data                 example
//!   0    open     the session's JSON   0{"sid":"lv_VI97HAXpY6yYWAAAC",...}
//!   1    close    none                 1
//!   2    ping     none, or "probe"     2        2probe
//!   3    pong     none, or "probe"     3        3probe
//!   4    message  the application's    4hello
//!   5    upgrade  none                 5
//!   6    noop     none                 6
//! ```
//!
//! Only a message carries binary data. On a WebSocket a binary frame *is* a message
//! packet (its bytes are the data, no type digit). In long-polling, where the body is
//! text, a binary message is `b` followed by the data in base64 (RFC 4648 §4, padded).

use base64::Engine as _;
use serde::Serialize;

/// The seven packet types (the digit at the start of a text packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketType {
    Open,
    Close,
    Ping,
    Pong,
    Message,
    Upgrade,
    Noop,
}

impl PacketType {
    /// The type digit as it appears on the wire.
    pub fn digit(self) -> char {
        match self {
            PacketType::Open => '0',
            PacketType::Close => '1',
            PacketType::Ping => '2',
            PacketType::Pong => '3',
            PacketType::Message => '4',
            PacketType::Upgrade => '5',
            PacketType::Noop => '6',
        }
    }

    /// The type a digit names; `None` for anything else.
    pub fn from_digit(c: char) -> Option<PacketType> {
        Some(match c {
            '0' => PacketType::Open,
            '1' => PacketType::Close,
            '2' => PacketType::Ping,
            '3' => PacketType::Pong,
            '4' => PacketType::Message,
            '5' => PacketType::Upgrade,
            '6' => PacketType::Noop,
            _ => return None,
        })
    }
}

/// What Engine.IO carries for the application: text or bytes. It is also what a
/// WebSocket frame holds (a text frame or a binary frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    /// The size of the data in bytes (UTF-8 bytes for text).
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One Engine.IO packet. Ping and pong carry text only during an upgrade (`probe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Packet {
    /// The server's first packet: the session's parameters as JSON (see [`super::open`]).
    Open(String),
    Close,
    Ping(String),
    Pong(String),
    Message(Message),
    Upgrade,
    Noop,
}

/// Why a packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PacketError {
    #[error("an empty packet: every packet starts with its type digit")]
    Empty,
    #[error("unknown packet type {found:?}: the types are the digits 0 to 6, or b for base64")]
    UnknownType { found: char },
    #[error("a binary message whose data after `b` is not base64 (RFC 4648 §4)")]
    BadBase64,
}

impl Packet {
    pub fn text(s: impl Into<String>) -> Packet {
        Packet::Message(Message::Text(s.into()))
    }

    pub fn binary(b: impl Into<Vec<u8>>) -> Packet {
        Packet::Message(Message::Binary(b.into()))
    }

    pub fn kind(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Read a packet in its text form: a type digit and text, or `b` and base64.
    /// Data after close, upgrade and noop means nothing and is dropped.
    pub fn decode_text(s: &str) -> Result<Packet, PacketError> {
        let mut chars = s.chars();
        let first = chars.next().ok_or(PacketError::Empty)?;
        let data = chars.as_str();
        if first == 'b' {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| PacketError::BadBase64)?;
            return Ok(Packet::binary(bytes));
        }
        let kind =
            PacketType::from_digit(first).ok_or(PacketError::UnknownType { found: first })?;
        Ok(match kind {
            PacketType::Open => Packet::Open(data.to_owned()),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(data.to_owned()),
            PacketType::Pong => Packet::Pong(data.to_owned()),
            PacketType::Message => Packet::text(data),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }

    /// Read the packet a WebSocket frame carries: a binary frame is a binary message,
    /// a text frame is a packet in text form.
    pub fn from_frame(frame: &Message) -> Result<Packet, PacketError> {
        match frame {
            Message::Binary(b) => Ok(Packet::binary(b.clone())),
            Message::Text(t) => Packet::decode_text(t),
        }
    }

    /// Append the text form (as in a long-polling body) to `out`.
    pub fn encode_text(&self, out: &mut String) {
        out.push(self.kind().digit());
        match self {
            Packet::Open(s) | Packet::Ping(s) | Packet::Pong(s) => out.push_str(s),
            Packet::Message(Message::Text(t)) => out.push_str(t),
            Packet::Message(Message::Binary(b)) => {
                out.pop();
                out.push('b');
                base64::engine::general_purpose::STANDARD.encode_string(b, out);
            }
            Packet::Close | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// The text form as a new string.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.encode_text(&mut out);
        out
    }

    /// The WebSocket frame that carries this packet: binary for a binary message, text
    /// (the text form) for everything else.
    pub fn to_frame(&self) -> Message {
        match self {
            Packet::Message(Message::Binary(b)) => Message::Binary(b.clone()),
            other => Message::Text(other.to_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_examples() {
        // From the protocol document's "Packet encoding" section.
        assert_eq!(Packet::decode_text("4hello"), Ok(Packet::text("hello")));
        assert_eq!(Packet::decode_text("2"), Ok(Packet::Ping(String::new())));
        assert_eq!(
            Packet::decode_text("2probe"),
            Ok(Packet::Ping("probe".into()))
        );
        assert_eq!(
            Packet::decode_text("3probe"),
            Ok(Packet::Pong("probe".into()))
        );
        assert_eq!(Packet::decode_text("5"), Ok(Packet::Upgrade));
        assert_eq!(Packet::decode_text("6"), Ok(Packet::Noop));
        assert_eq!(Packet::decode_text("1"), Ok(Packet::Close));
        assert_eq!(
            Packet::decode_text("bAQIDBA=="),
            Ok(Packet::binary([1, 2, 3, 4]))
        );
    }

    #[test]
    fn encodes_as_the_reference_parser_does() {
        // engine.io-parser 5.2.3 encodePacket(packet, supportsBinary = false), run in node 20.
        assert_eq!(Packet::binary([1, 2, 3, 4]).to_text(), "bAQIDBA==");
        assert_eq!(Packet::text("hello").to_text(), "4hello");
        assert_eq!(Packet::Pong("probe".into()).to_text(), "3probe");
        assert_eq!(Packet::Noop.to_text(), "6");
        assert_eq!(Packet::text("").to_text(), "4");
        assert_eq!(Packet::text("é").to_text(), "4é");
    }

    #[test]
    fn a_websocket_binary_frame_is_the_message_itself() {
        let frame = Packet::binary([0xff, 0]).to_frame();
        assert_eq!(frame, Message::Binary(vec![0xff, 0]));
        assert_eq!(Packet::from_frame(&frame), Ok(Packet::binary([0xff, 0])));
        let text = Packet::text("4 is not a type here").to_frame();
        assert_eq!(text, Message::Text("44 is not a type here".into()));
        assert_eq!(
            Packet::from_frame(&text),
            Ok(Packet::text("4 is not a type here"))
        );
    }

    #[test]
    fn names_each_malformed_packet() {
        assert_eq!(Packet::decode_text(""), Err(PacketError::Empty));
        assert_eq!(
            Packet::decode_text("9zz"),
            Err(PacketError::UnknownType { found: '9' })
        );
        assert_eq!(
            Packet::decode_text("é"),
            Err(PacketError::UnknownType { found: 'é' })
        );
        // Node's Buffer.from("!!!", "base64") quietly gives 0 bytes; netlab names it.
        assert_eq!(Packet::decode_text("b!!!"), Err(PacketError::BadBase64));
    }

    #[test]
    fn round_trips_every_type() {
        for p in [
            Packet::Open("{}".into()),
            Packet::Close,
            Packet::Ping("probe".into()),
            Packet::Pong(String::new()),
            Packet::text("a\u{1e}b"),
            Packet::binary(vec![]),
            Packet::Upgrade,
            Packet::Noop,
        ] {
            assert_eq!(Packet::decode_text(&p.to_text()).as_ref(), Ok(&p));
            assert_eq!(Packet::from_frame(&p.to_frame()).as_ref(), Ok(&p));
        }
    }
}
