//! Engine.IO messages into packets.
//!
//! A text message is a packet, unless its type is BINARY_EVENT or BINARY_ACK: then it
//! announces N attachments, and the next N messages must be binary. The decoder keeps the
//! announced packet and its attachments until the N-th arrives, within [`Limits`].

use super::data::Data;
use super::packet::{check_payload, parse_payload, Header, Kind, Packet, PacketType};
use super::{EngineMessage, PacketError};
use serde_json::Value;

/// How much a peer may make the decoder hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Attachments one packet may announce (`socket.io-parser`'s `maxAttachments`, 10).
    pub max_attachments: usize,
    /// Bytes of all the attachments of one packet together (Engine.IO's default
    /// `maxPayload`, 1 MB, bounds each one; this bounds their sum).
    pub max_attachment_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
        }
    }
}

/// A binary packet whose attachments have not all arrived.
#[derive(Debug, Clone, PartialEq)]
struct Awaiting {
    packet_type: PacketType,
    namespace: String,
    ack_id: Option<u64>,
    payload: Value,
    expected: usize,
    buffers: Vec<Option<Vec<u8>>>,
    bytes: usize,
}

/// Messages in, packets out: one per connection (attachments of two packets never mix,
/// as Engine.IO keeps the messages of a connection in order).
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    limits: Limits,
    awaiting: Option<Awaiting>,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            awaiting: None,
        }
    }

    /// Is a binary packet waiting for attachments?
    pub fn is_awaiting(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Feed one message. `Ok(None)`: an attachment was stored, or a binary packet now waits
    /// for its attachments. After an error the decoder holds nothing; the connection that
    /// sent it should be closed (the real server does).
    pub fn push(&mut self, message: EngineMessage) -> Result<Option<Packet>, PacketError> {
        let result = match message {
            EngineMessage::Text(text) => self.push_text(&text),
            EngineMessage::Binary(bytes) => self.push_binary(bytes),
        };
        if result.is_err() {
            self.awaiting = None;
        }
        result
    }

    fn push_text(&mut self, text: &str) -> Result<Option<Packet>, PacketError> {
        if let Some(awaiting) = &self.awaiting {
            let missing = awaiting.expected - awaiting.buffers.len();
            return Err(PacketError::TextWhileAwaitingAttachments { missing });
        }
        let (header, json) = Header::parse(text, &self.limits)?;
        let payload = parse_payload(json)?;
        check_payload(header.packet_type, header.ack_id, payload.as_ref())?;
        if !header.packet_type.is_binary() {
            return build(
                header.packet_type,
                header.namespace,
                header.ack_id,
                payload,
                &mut [],
            )
            .map(Some);
        }
        // check_payload made sure a binary packet has its array.
        let payload = payload.ok_or(PacketError::EventNotArray)?;
        self.awaiting = Some(Awaiting {
            packet_type: header.packet_type,
            namespace: header.namespace.to_owned(),
            ack_id: header.ack_id,
            payload,
            expected: header.attachments,
            // Bounded by `max_attachments`, checked when the header was read.
            buffers: Vec::with_capacity(header.attachments),
            bytes: 0,
        });
        Ok(None)
    }

    fn push_binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, PacketError> {
        let Some(awaiting) = &mut self.awaiting else {
            return Err(PacketError::UnexpectedBinary);
        };
        awaiting.bytes = awaiting.bytes.saturating_add(bytes.len());
        if awaiting.bytes > self.limits.max_attachment_bytes {
            let (len, max) = (awaiting.bytes, self.limits.max_attachment_bytes);
            return Err(PacketError::AttachmentsTooLarge { len, max });
        }
        awaiting.buffers.push(Some(bytes));
        if awaiting.buffers.len() < awaiting.expected {
            return Ok(None);
        }
        let Some(mut done) = self.awaiting.take() else {
            return Ok(None);
        };
        let payload = Some(done.payload);
        build(
            done.packet_type,
            &done.namespace,
            done.ack_id,
            payload,
            &mut done.buffers,
        )
        .map(Some)
    }
}

/// A packet from a header and a payload already checked by [`check_payload`].
fn build(
    packet_type: PacketType,
    namespace: &str,
    ack_id: Option<u64>,
    payload: Option<Value>,
    buffers: &mut [Option<Vec<u8>>],
) -> Result<Packet, PacketError> {
    let binary = packet_type.is_binary();
    // Only binary packets have placeholders; elsewhere such an object is plain JSON.
    let args =
        |items: Vec<Value>, buffers: &mut [Option<Vec<u8>>]| -> Result<Vec<Data>, PacketError> {
            if binary {
                items
                    .into_iter()
                    .map(|v| Data::reconstruct(v, buffers))
                    .collect()
            } else {
                Ok(items.into_iter().map(Data::Json).collect())
            }
        };
    let kind = match (packet_type, payload) {
        (PacketType::Connect, Some(Value::Object(auth))) => Kind::Connect(Some(auth)),
        (PacketType::Connect, _) => Kind::Connect(None),
        (PacketType::Disconnect, _) => Kind::Disconnect,
        (PacketType::ConnectError, Some(data)) => Kind::ConnectError(data),
        (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(mut items))) => {
            if items.is_empty() {
                return Err(PacketError::EventWithoutName);
            }
            let Value::String(name) = items.remove(0) else {
                return Err(PacketError::EventNameNotString);
            };
            let args = args(items, buffers)?;
            Kind::Event {
                name,
                args,
                ack: ack_id,
            }
        }
        (PacketType::Ack | PacketType::BinaryAck, Some(Value::Array(items))) => {
            let id = ack_id.ok_or(PacketError::MissingAckId)?;
            Kind::Ack {
                id,
                args: args(items, buffers)?,
            }
        }
        // check_payload refused every other combination already.
        (PacketType::ConnectError, None) => return Err(PacketError::BadConnectError),
        (PacketType::Event | PacketType::BinaryEvent, _) => return Err(PacketError::EventNotArray),
        (PacketType::Ack | PacketType::BinaryAck, _) => return Err(PacketError::AckNotArray),
    };
    Ok(Packet::new(namespace, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> EngineMessage {
        EngineMessage::Text(s.to_owned())
    }

    #[test]
    fn a_billion_attachments_are_refused_at_once() {
        let mut decoder = Decoder::default();
        let err = decoder.push(text(r#"51000000000-["e",{"_placeholder":true,"num":0}]"#));
        assert!(matches!(err, Err(PacketError::TooManyAttachments { .. })));
        assert!(!decoder.is_awaiting());
    }

    #[test]
    fn waits_for_every_attachment_then_completes() {
        let mut decoder = Decoder::default();
        let head = r#"52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(decoder.push(text(head)), Ok(None));
        assert!(decoder.is_awaiting());
        assert_eq!(decoder.push(EngineMessage::Binary(vec![1])), Ok(None));
        let packet = decoder
            .push(EngineMessage::Binary(vec![2]))
            .unwrap()
            .unwrap();
        assert_eq!(
            packet,
            Packet::event("/", "e", vec![Data::Binary(vec![1]), Data::Binary(vec![2])])
        );
        assert!(!decoder.is_awaiting());
    }

    #[test]
    fn text_while_awaiting_attachments_is_refused() {
        let mut decoder = Decoder::default();
        decoder
            .push(text(r#"51-["e",{"_placeholder":true,"num":0}]"#))
            .unwrap();
        assert_eq!(
            decoder.push(text(r#"2["f"]"#)),
            Err(PacketError::TextWhileAwaitingAttachments { missing: 1 })
        );
        // The decoder starts again after an error.
        assert!(decoder.push(text(r#"2["f"]"#)).unwrap().is_some());
    }

    #[test]
    fn binary_without_a_packet_is_refused() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.push(EngineMessage::Binary(vec![1])),
            Err(PacketError::UnexpectedBinary)
        );
    }

    #[test]
    fn attachments_are_bounded_in_bytes() {
        let limits = Limits {
            max_attachments: 10,
            max_attachment_bytes: 4,
        };
        let mut decoder = Decoder::new(limits);
        decoder
            .push(text(
                r#"52-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ))
            .unwrap();
        decoder.push(EngineMessage::Binary(vec![0; 3])).unwrap();
        assert_eq!(
            decoder.push(EngineMessage::Binary(vec![0; 2])),
            Err(PacketError::AttachmentsTooLarge { len: 5, max: 4 })
        );
    }

    #[test]
    fn placeholders_must_name_an_attachment_once() {
        let mut decoder = Decoder::default();
        decoder
            .push(text(r#"51-["e",{"_placeholder":true,"num":1}]"#))
            .unwrap();
        assert_eq!(
            decoder.push(EngineMessage::Binary(vec![1])),
            Err(PacketError::BadPlaceholder)
        );
        let twice = r#"51-["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#;
        decoder.push(text(twice)).unwrap();
        assert_eq!(
            decoder.push(EngineMessage::Binary(vec![1])),
            Err(PacketError::PlaceholderReused { num: 0 })
        );
        decoder
            .push(text(r#"51-["e",{"_placeholder":true}]"#))
            .unwrap();
        assert_eq!(
            decoder.push(EngineMessage::Binary(vec![1])),
            Err(PacketError::BadPlaceholder)
        );
    }
}
