//! The seven packet types and the text form of a packet, both ways.
//!
//! ```text
//!  <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//! ```
//!
//! Each part is recognised by its first character, left to right: the type is one digit;
//! the attachment count (binary types only) is digits ending in `-`; a namespace starts with
//! `/` and ends at `,`; the ack id is digits; whatever follows is JSON. The main namespace
//! `/` is never written: a packet without a namespace belongs to `/`.

use super::data::Data;
use super::decoder::Limits;
use super::{PacketError, RESERVED_EVENTS};
use serde_json::{Map, Value};
use std::fmt;

/// The packet type, the first character of every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Client: "let me into this namespace" (with an optional `auth` object). Server: "you
    /// are in", with `{"sid": ...}`.
    Connect,
    /// Either side leaves a namespace; no answer is expected.
    Disconnect,
    /// `[name, ...arguments]`, optionally with an ack id asking for an answer.
    Event,
    /// The answer to an event that carried an ack id: `[...arguments]`.
    Ack,
    /// The server refuses a CONNECT: `{"message": ..., "data": ...}`.
    ConnectError,
    /// An EVENT whose arguments hold binary: the binaries follow as separate messages.
    BinaryEvent,
    /// An ACK whose arguments hold binary.
    BinaryAck,
}

impl PacketType {
    /// The type for its digit, if it is one of the seven.
    pub fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Connect,
            b'1' => PacketType::Disconnect,
            b'2' => PacketType::Event,
            b'3' => PacketType::Ack,
            b'4' => PacketType::ConnectError,
            b'5' => PacketType::BinaryEvent,
            b'6' => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The digit that starts the packet.
    pub fn digit(self) -> char {
        match self {
            PacketType::Connect => '0',
            PacketType::Disconnect => '1',
            PacketType::Event => '2',
            PacketType::Ack => '3',
            PacketType::ConnectError => '4',
            PacketType::BinaryEvent => '5',
            PacketType::BinaryAck => '6',
        }
    }

    /// Does this type carry an attachment count?
    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketType::Connect => "CONNECT",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Event => "EVENT",
            PacketType::Ack => "ACK",
            PacketType::ConnectError => "CONNECT_ERROR",
            PacketType::BinaryEvent => "BINARY_EVENT",
            PacketType::BinaryAck => "BINARY_ACK",
        })
    }
}

/// One Socket.IO packet, decoded: binary attachments are back inside the arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// Starts with `/`; `/` is the main namespace.
    pub namespace: String,
    pub kind: Kind,
}

/// What a packet says. EVENT and BINARY_EVENT are one kind here (as are ACK and BINARY_ACK):
/// whether binary is inside decides the type on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// From a client, the `auth` object; from the server, `{"sid": ..}` (and `"pid"` when
    /// connection state recovery is on).
    Connect(Option<Map<String, Value>>),
    Disconnect,
    Event {
        name: String,
        args: Vec<Data>,
        /// Present when the sender wants an ACK back with this id.
        ack: Option<u64>,
    },
    Ack {
        id: u64,
        args: Vec<Data>,
    },
    /// A string or an object; the real server sends `{"message": .., "data": ..}`.
    ConnectError(Value),
}

/// The main namespace.
pub const MAIN_NAMESPACE: &str = "/";

/// netlab's bound on a namespace's length (the format has none).
pub const MAX_NAMESPACE_LEN: usize = 256;

impl Packet {
    pub fn new(namespace: impl Into<String>, kind: Kind) -> Packet {
        Packet {
            namespace: namespace.into(),
            kind,
        }
    }

    /// An EVENT without ack id on `namespace`.
    pub fn event(namespace: impl Into<String>, name: impl Into<String>, args: Vec<Data>) -> Self {
        let kind = Kind::Event {
            name: name.into(),
            args,
            ack: None,
        };
        Packet::new(namespace, kind)
    }

    /// The type this packet has on the wire.
    pub fn packet_type(&self) -> PacketType {
        let binary = |args: &[Data]| args.iter().any(Data::has_binary);
        match &self.kind {
            Kind::Connect(_) => PacketType::Connect,
            Kind::Disconnect => PacketType::Disconnect,
            Kind::Event { args, .. } if binary(args) => PacketType::BinaryEvent,
            Kind::Event { .. } => PacketType::Event,
            Kind::Ack { args, .. } if binary(args) => PacketType::BinaryAck,
            Kind::Ack { .. } => PacketType::Ack,
            Kind::ConnectError(_) => PacketType::ConnectError,
        }
    }

    /// The messages for Engine.IO: the text form, then one binary message per attachment
    /// (the binaries replaced by placeholders in the JSON, numbered in the order met).
    pub fn encode(&self) -> Vec<super::EngineMessage> {
        let mut buffers = Vec::new();
        let (id, payload) = match &self.kind {
            Kind::Connect(auth) => (None, auth.clone().map(Value::Object)),
            Kind::Disconnect => (None, None),
            Kind::Event { name, args, ack } => {
                let mut all = vec![Value::String(name.clone())];
                all.extend(args.iter().map(|a| a.deconstruct(&mut buffers)));
                (*ack, Some(Value::Array(all)))
            }
            Kind::Ack { id, args } => {
                let all = args.iter().map(|a| a.deconstruct(&mut buffers)).collect();
                (Some(*id), Some(Value::Array(all)))
            }
            Kind::ConnectError(data) => (None, Some(data.clone())),
        };
        let json = payload.map(|p| p.to_string());
        let head = Header {
            packet_type: self.packet_type(),
            attachments: buffers.len(),
            namespace: &self.namespace,
            ack_id: id,
        };
        let mut messages = vec![super::EngineMessage::Text(head.write(json.as_deref()))];
        messages.extend(buffers.into_iter().map(super::EngineMessage::Binary));
        messages
    }
}

/// Everything before the JSON payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub packet_type: PacketType,
    /// The number of binary messages that follow (0 for the non-binary types).
    pub attachments: usize,
    pub namespace: &'a str,
    pub ack_id: Option<u64>,
}

impl Header<'_> {
    /// The text form with `json` (already serialized) as payload. The server writes
    /// payloads whose key order matters (`{"sid":..,"pid":..}`) through here.
    pub fn write(&self, json: Option<&str>) -> String {
        let mut out = String::with_capacity(16 + json.map_or(0, str::len));
        out.push(self.packet_type.digit());
        if self.packet_type.is_binary() {
            out.push_str(&self.attachments.to_string());
            out.push('-');
        }
        if self.namespace != MAIN_NAMESPACE {
            out.push_str(self.namespace);
            out.push(',');
        }
        if let Some(id) = self.ack_id {
            out.push_str(&id.to_string());
        }
        out.push_str(json.unwrap_or(""));
        out
    }

    /// Read the header off a text message; the rest of `text` is the JSON payload.
    pub fn parse<'t>(text: &'t str, limits: &Limits) -> Result<(Header<'t>, &'t str), PacketError> {
        let Some(&first) = text.as_bytes().first() else {
            return Err(PacketError::Empty);
        };
        let packet_type = PacketType::from_digit(first).ok_or(PacketError::UnknownType {
            found: text.chars().next().unwrap_or_default(),
        })?;
        let mut rest = &text[1..];
        let mut attachments = 0;
        if packet_type.is_binary() {
            (attachments, rest) = attachment_count(rest, limits.max_attachments)?;
        }
        let mut namespace = MAIN_NAMESPACE;
        if rest.starts_with('/') {
            (namespace, rest) = read_namespace(rest)?;
        }
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let mut ack_id = None;
        if digits > 0 {
            ack_id = Some(rest[..digits].parse().map_err(|_| PacketError::BadAckId)?);
            rest = &rest[digits..];
        }
        let header = Header {
            packet_type,
            attachments,
            namespace,
            ack_id,
        };
        Ok((header, rest))
    }
}

/// `<digits>-`, bounded: the count is refused before anything is allocated for it.
fn attachment_count(rest: &str, max: usize) -> Result<(usize, &str), PacketError> {
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || rest.as_bytes().get(digits) != Some(&b'-') {
        return Err(PacketError::BadAttachmentCount);
    }
    // Nineteen digits always fit a u64, so the error can say what was claimed; more would
    // be refused by any limit anyway (and are not read).
    let claimed: u64 = if digits > 19 {
        u64::MAX
    } else {
        rest[..digits]
            .parse()
            .map_err(|_| PacketError::BadAttachmentCount)?
    };
    if claimed == 0 {
        return Err(PacketError::NoAttachments);
    }
    if claimed > max as u64 {
        return Err(PacketError::TooManyAttachments { claimed, max });
    }
    Ok((claimed as usize, &rest[digits + 1..]))
}

/// `/name,` (the comma may be missing when nothing follows).
fn read_namespace(rest: &str) -> Result<(&str, &str), PacketError> {
    let (namespace, after) = match rest.find(',') {
        Some(comma) => (&rest[..comma], &rest[comma + 1..]),
        None => (rest, ""),
    };
    if namespace.len() > MAX_NAMESPACE_LEN {
        return Err(PacketError::BadNamespace {
            reason: "longer than 256 bytes",
        });
    }
    if namespace
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(PacketError::BadNamespace {
            reason: "with a space or a control character",
        });
    }
    if namespace.contains(['[', '{', '"']) {
        return Err(PacketError::BadNamespace {
            reason: "running into the JSON payload (no `,` after it)",
        });
    }
    Ok((namespace, after))
}

/// Check that `payload` has the shape its packet type requires (the rules of the
/// specification's "Exchange protocol" and of `socket.io-parser`'s decoder).
pub fn check_payload(
    packet_type: PacketType,
    ack_id: Option<u64>,
    payload: Option<&Value>,
) -> Result<(), PacketError> {
    use PacketType::*;
    match (packet_type, ack_id) {
        (Connect | Disconnect | ConnectError, Some(_)) => {
            return Err(PacketError::UnexpectedAckId { kind: packet_type })
        }
        (Ack | BinaryAck, None) => return Err(PacketError::MissingAckId),
        _ => {}
    }
    match (packet_type, payload) {
        (Connect, None | Some(Value::Object(_))) => Ok(()),
        (Connect, Some(_)) => Err(PacketError::ConnectNotObject),
        (Disconnect, None) => Ok(()),
        (Disconnect, Some(_)) => Err(PacketError::DisconnectWithPayload),
        (ConnectError, Some(Value::String(_) | Value::Object(_))) => Ok(()),
        (ConnectError, _) => Err(PacketError::BadConnectError),
        // Spec: "The payload is mandatory and MUST be a non-empty array."
        (Event | BinaryEvent, Some(Value::Array(items))) => check_event_name(items.first()),
        (Event | BinaryEvent, _) => Err(PacketError::EventNotArray),
        // Spec: "The payload is mandatory and MUST be an array (possibly empty)."
        (Ack | BinaryAck, Some(Value::Array(_))) => Ok(()),
        (Ack | BinaryAck, _) => Err(PacketError::AckNotArray),
    }
}

fn check_event_name(first: Option<&Value>) -> Result<(), PacketError> {
    // `socket.io-parser` also lets a number through as the name; an event name is a
    // string everywhere else (the JavaScript `emit` takes one), so netlab refuses it.
    match first {
        None => Err(PacketError::EventWithoutName),
        Some(Value::String(name)) if RESERVED_EVENTS.contains(&name.as_str()) => {
            Err(PacketError::ReservedEventName { name: name.clone() })
        }
        Some(Value::String(_)) => Ok(()),
        Some(_) => Err(PacketError::EventNameNotString),
    }
}

/// Parse the JSON payload (absent when `json` is empty).
pub fn parse_payload(json: &str) -> Result<Option<Value>, PacketError> {
    if json.is_empty() {
        return Ok(None);
    }
    // serde_json stops nesting at 128 levels, so a hostile payload cannot exhaust the stack.
    serde_json::from_str(json)
        .map(Some)
        .map_err(|_| PacketError::BadJson)
}

#[cfg(test)]
mod tests {
    use super::super::{Decoder, EngineMessage, PacketError};
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> EngineMessage {
        EngineMessage::Text(s.to_owned())
    }

    /// Decode a whole packet (its text message and attachments).
    fn decode(messages: Vec<EngineMessage>) -> Result<Packet, PacketError> {
        let mut decoder = Decoder::default();
        let mut last = None;
        for m in messages {
            last = decoder.push(m)?;
        }
        Ok(last.expect("the last message completes the packet"))
    }

    fn json_args(values: &[Value]) -> Vec<Data> {
        values.iter().cloned().map(Data::Json).collect()
    }

    /// Each example must encode to exactly the specification's bytes and decode back.
    fn both_ways(packet: Packet, wire: Vec<EngineMessage>) {
        assert_eq!(packet.encode(), wire, "encoding {packet:?}");
        assert_eq!(decode(wire).unwrap(), packet);
    }

    // The specification's "Packet encoding" tables, in order.
    #[test]
    fn spec_connection_to_a_namespace() {
        let sid = |s: &str| Some(json!({ "sid": s }).as_object().unwrap().clone());
        both_ways(Packet::new("/", Kind::Connect(None)), vec![text("0")]);
        both_ways(
            Packet::new("/", Kind::Connect(sid("wZX3oN0bSVIhsaknAAAI"))),
            vec![text(r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#)],
        );
        both_ways(
            Packet::new("/admin", Kind::Connect(None)),
            vec![text("0/admin,")],
        );
        both_ways(
            Packet::new("/admin", Kind::Connect(sid("oSO0OpakMV_3jnilAAAA"))),
            vec![text(r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#)],
        );
        both_ways(
            Packet::new(
                "/",
                Kind::ConnectError(json!({"message": "Not authorized"})),
            ),
            vec![text(r#"4{"message":"Not authorized"}"#)],
        );
    }

    #[test]
    fn spec_sending_and_receiving_data() {
        both_ways(Packet::event("/", "foo", vec![]), vec![text(r#"2["foo"]"#)]);
        both_ways(
            Packet::event("/admin", "bar", vec![]),
            vec![text(r#"2/admin,["bar"]"#)],
        );
        both_ways(
            Packet::event("/", "baz", vec![Data::Binary(vec![1, 2, 3, 4])]),
            vec![
                text(r#"51-["baz",{"_placeholder":true,"num":0}]"#),
                EngineMessage::Binary(vec![1, 2, 3, 4]),
            ],
        );
        both_ways(
            Packet::event(
                "/admin",
                "baz",
                vec![Data::Binary(vec![1, 2]), Data::Binary(vec![3, 4])],
            ),
            vec![
                text(
                    r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                ),
                EngineMessage::Binary(vec![1, 2]),
                EngineMessage::Binary(vec![3, 4]),
            ],
        );
    }

    #[test]
    fn spec_acknowledgement() {
        let event = |ns: &str, name: &str, args, ack| {
            Packet::new(
                ns,
                Kind::Event {
                    name: name.into(),
                    args,
                    ack: Some(ack),
                },
            )
        };
        let ack = |ns: &str, id, args| Packet::new(ns, Kind::Ack { id, args });
        both_ways(event("/", "foo", vec![], 12), vec![text(r#"212["foo"]"#)]);
        both_ways(ack("/", 12, vec![]), vec![text("312[]")]);
        both_ways(
            event("/admin", "foo", vec![], 13),
            vec![text(r#"2/admin,13["foo"]"#)],
        );
        both_ways(
            ack("/admin", 13, json_args(&[json!("bar")])),
            vec![text(r#"3/admin,13["bar"]"#)],
        );
        both_ways(
            event("/", "foo", vec![Data::Binary(vec![1, 2, 3, 4])], 14),
            vec![
                text(r#"51-14["foo",{"_placeholder":true,"num":0}]"#),
                EngineMessage::Binary(vec![1, 2, 3, 4]),
            ],
        );
        both_ways(
            ack(
                "/",
                15,
                vec![Data::Json(json!("bar")), Data::Binary(vec![1, 2, 3, 4])],
            ),
            vec![
                text(r#"61-15["bar",{"_placeholder":true,"num":0}]"#),
                EngineMessage::Binary(vec![1, 2, 3, 4]),
            ],
        );
    }

    #[test]
    fn spec_disconnection_from_a_namespace() {
        both_ways(Packet::new("/", Kind::Disconnect), vec![text("1")]);
        both_ways(
            Packet::new("/admin", Kind::Disconnect),
            vec![text("1/admin,")],
        );
    }

    // Messages socket.io-client 4.8 sent to a socket.io 4.8.4 server (logged from the
    // server's Engine.IO socket, `packet` events), and what the server answered.
    #[test]
    fn real_client_messages() {
        let auth = json!({"token": "123"}).as_object().cloned();
        both_ways(
            Packet::new("/admin", Kind::Connect(auth)),
            vec![text(r#"0/admin,{"token":"123"}"#)],
        );
        both_ways(
            Packet::new("/nope", Kind::Connect(None)),
            vec![text("0/nope,")],
        );
        let foo = Kind::Event {
            name: "foo".into(),
            args: json_args(&[json!("x"), json!(1)]),
            ack: Some(0),
        };
        both_ways(Packet::new("/", foo), vec![text(r#"20["foo","x",1]"#)]);
        let hello = Kind::Event {
            name: "hello".into(),
            args: json_args(&[json!("é")]),
            ack: Some(1),
        };
        both_ways(
            Packet::new("/admin", hello),
            vec![text(r#"2/admin,1["hello","é"]"#)],
        );
        both_ways(
            Packet::event(
                "/",
                "bin",
                vec![Data::Json(json!("baz")), Data::Binary(vec![1, 2, 3, 4])],
            ),
            vec![
                text(r#"51-["bin","baz",{"_placeholder":true,"num":0}]"#),
                EngineMessage::Binary(vec![1, 2, 3, 4]),
            ],
        );
    }

    #[test]
    fn real_server_messages() {
        // `socket.emit("back", { x: Buffer.from([9]), y: [Buffer.from([8, 7])] })`
        let back = Data::Object(vec![
            ("x".into(), Data::Binary(vec![9])),
            ("y".into(), Data::Array(vec![Data::Binary(vec![8, 7])])),
        ]);
        both_ways(
            Packet::event("/", "back", vec![back]),
            vec![
                text(
                    r#"52-["back",{"x":{"_placeholder":true,"num":0},"y":[{"_placeholder":true,"num":1}]}]"#,
                ),
                EngineMessage::Binary(vec![9]),
                EngineMessage::Binary(vec![8, 7]),
            ],
        );
        both_ways(
            Packet::new(
                "/nope",
                Kind::ConnectError(json!({"message": "Invalid namespace"})),
            ),
            vec![text(r#"4/nope,{"message":"Invalid namespace"}"#)],
        );
        both_ways(
            Packet::new(
                "/",
                Kind::Ack {
                    id: 0,
                    args: vec![],
                },
            ),
            vec![text("30[]")],
        );
    }

    #[test]
    fn placeholders_out_of_order_still_find_their_attachment() {
        let packet = decode(vec![
            text(r#"52-["e",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#),
            EngineMessage::Binary(vec![0]),
            EngineMessage::Binary(vec![1]),
        ])
        .unwrap();
        let Kind::Event { args, .. } = packet.kind else {
            panic!("an event")
        };
        assert_eq!(args, vec![Data::Binary(vec![1]), Data::Binary(vec![0])]);
    }

    #[test]
    fn a_placeholder_in_a_plain_event_is_plain_json() {
        let packet = decode(vec![text(r#"2["e",{"_placeholder":true,"num":0}]"#)]).unwrap();
        let Kind::Event { args, .. } = packet.kind else {
            panic!("an event")
        };
        assert_eq!(
            args,
            vec![Data::Json(json!({"_placeholder": true, "num": 0}))]
        );
    }

    #[test]
    fn malformed_packets_are_named() {
        use PacketError::*;
        let cases: &[(&str, PacketError)] = &[
            ("", Empty),
            ("7", UnknownType { found: '7' }),
            ("x[]", UnknownType { found: 'x' }),
            ("5[\"e\"]", BadAttachmentCount),
            ("5x-[\"e\"]", BadAttachmentCount),
            ("50-[\"e\"]", NoAttachments),
            (
                "511-[\"e\"]",
                TooManyAttachments {
                    claimed: 11,
                    max: 10,
                },
            ),
            (
                "51000000000-[\"e\"]",
                TooManyAttachments {
                    claimed: 1_000_000_000,
                    max: 10,
                },
            ),
            (
                "5123456789012345678901-[\"e\"]",
                TooManyAttachments {
                    claimed: u64::MAX,
                    max: 10,
                },
            ),
            (
                "2/ad min,[\"e\"]",
                BadNamespace {
                    reason: "with a space or a control character",
                },
            ),
            (
                "2/admin[\"e\"]",
                BadNamespace {
                    reason: "running into the JSON payload (no `,` after it)",
                },
            ),
            ("299999999999999999999[\"e\"]", BadAckId),
            (
                "012{}",
                UnexpectedAckId {
                    kind: PacketType::Connect,
                },
            ),
            ("3[]", MissingAckId),
            ("2[\"e\"", BadJson),
            ("0[]", ConnectNotObject),
            ("1{}", DisconnectWithPayload),
            ("4[]", BadConnectError),
            ("4", BadConnectError),
            ("2{}", EventNotArray),
            ("2", EventNotArray),
            ("2[]", EventWithoutName),
            ("2[1]", EventNameNotString),
            (
                "2[\"disconnect\"]",
                ReservedEventName {
                    name: "disconnect".into(),
                },
            ),
            (
                "2[\"newListener\",1]",
                ReservedEventName {
                    name: "newListener".into(),
                },
            ),
            ("31{}", AckNotArray),
        ];
        for (wire, error) in cases {
            assert_eq!(decode(vec![text(wire)]).unwrap_err(), *error, "{wire:?}");
        }
        let long = format!("2/{},[\"e\"]", "a".repeat(MAX_NAMESPACE_LEN));
        assert!(matches!(
            decode(vec![text(&long)]),
            Err(BadNamespace { .. })
        ));
    }

    #[test]
    fn namespace_without_comma_at_the_end() {
        assert_eq!(
            decode(vec![text("1/admin")]).unwrap(),
            Packet::new("/admin", Kind::Disconnect)
        );
    }
}
