//! The frame header of RFC 6455 §5.2 (diagram in the [module docs](super)).
//!
//! [`FrameHeader::parse`] reads a header and asks for more bytes when it is incomplete;
//! [`FrameHeader::check`] enforces the rules a receiver must (RSV bits, reserved opcodes,
//! who masks, control-frame limits, the size we accept) *before* any payload is buffered,
//! so a frame that claims 2^62 bytes is refused without allocating anything.

use super::{mask::apply_mask, OpCode, ProtocolError, Role};
use serde::Serialize;

/// How the payload length was written (§5.2). Senders must use the shortest form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthEncoding {
    /// 0–125, in the 7-bit field itself.
    Bits7,
    /// 126 in the 7-bit field, then a 16-bit length (126–65535).
    Bits16,
    /// 127 in the 7-bit field, then a 64-bit length whose top bit is 0.
    Bits64,
}

impl LengthEncoding {
    /// The shortest encoding for `len`.
    pub fn minimal(len: u64) -> LengthEncoding {
        match len {
            0..=125 => LengthEncoding::Bits7,
            126..=0xFFFF => LengthEncoding::Bits16,
            _ => LengthEncoding::Bits64,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            LengthEncoding::Bits7 => "7-bit length",
            LengthEncoding::Bits16 => "126 + 16-bit length",
            LengthEncoding::Bits64 => "127 + 64-bit length",
        }
    }
}

/// The outcome of reading a header (or a whole frame) from the front of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// Done: `header_len` bytes of the buffer were the header.
    Complete { value: T, header_len: usize },
    /// Not enough bytes yet: call again when the buffer holds at least `at_least`.
    NeedMore { at_least: usize },
}

/// One frame header, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FrameHeader {
    /// FIN: this is the final frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as three bits (RSV1 is the 0b100 bit). 0 without an extension.
    pub rsv: u8,
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
    /// How the length was written.
    pub length_encoding: LengthEncoding,
}

impl FrameHeader {
    /// A header for sending: FIN as given, no RSV bits, the minimal length encoding.
    pub fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len,
            length_encoding: LengthEncoding::minimal(payload_len),
        }
    }

    /// Read a header from the front of `buf`. Errors only on a 64-bit length with its
    /// top bit set; everything else is syntax the caller judges with [`check`](Self::check).
    pub fn parse(buf: &[u8]) -> Result<Parsed<FrameHeader>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(Parsed::NeedMore { at_least: 2 });
        };
        let masked = b1 & 0x80 != 0;
        let (length_encoding, len_bytes) = match b1 & 0x7f {
            126 => (LengthEncoding::Bits16, 2),
            127 => (LengthEncoding::Bits64, 8),
            _ => (LengthEncoding::Bits7, 0),
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        if buf.len() < header_len {
            return Ok(Parsed::NeedMore {
                at_least: header_len,
            });
        }
        let payload_len = match length_encoding {
            LengthEncoding::Bits7 => u64::from(b1 & 0x7f),
            LengthEncoding::Bits16 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
            LengthEncoding::Bits64 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                let len = u64::from_be_bytes(b);
                // §5.2: "the most significant bit MUST be 0".
                if len >> 63 != 0 {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                len
            }
        };
        let mask = masked.then(|| {
            let at = 2 + len_bytes;
            [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]
        });
        Ok(Parsed::Complete {
            value: FrameHeader {
                fin: b0 & 0x80 != 0,
                rsv: (b0 >> 4) & 0x07,
                opcode: OpCode::from_bits(b0),
                mask,
                payload_len,
                length_encoding,
            },
            header_len,
        })
    }

    /// The rules a receiver enforces on a header before reading its payload.
    /// `receiver` is our role; `max_payload` the largest payload we are willing to hold.
    pub fn check(&self, receiver: Role, max_payload: usize) -> Result<(), ProtocolError> {
        // §5.2: "MUST be 0 unless an extension is negotiated that defines meanings".
        if self.rsv != 0 {
            return Err(ProtocolError::ReservedBitsSet { bits: self.rsv });
        }
        if let OpCode::Reserved(opcode) = self.opcode {
            return Err(ProtocolError::ReservedOpcode { opcode });
        }
        // §5.1: a server MUST close on an unmasked frame; a client on a masked one.
        match (receiver, self.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrameFromClient),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrameFromServer),
            _ => {}
        }
        if self.opcode.is_control() {
            // §5.5: "All control frames MUST have a payload length of 125 bytes or less
            // and MUST NOT be fragmented."
            if self.payload_len > 125 {
                return Err(ProtocolError::ControlFrameTooLong {
                    opcode: self.opcode,
                    len: self.payload_len,
                });
            }
            if !self.fin {
                return Err(ProtocolError::FragmentedControlFrame {
                    opcode: self.opcode,
                });
            }
        }
        if self.payload_len > max_payload as u64 {
            return Err(ProtocolError::MessageTooBig {
                len: self.payload_len,
                max: max_payload,
            });
        }
        Ok(())
    }

    /// How many bytes [`emit`](Self::emit) writes.
    pub fn len(&self) -> usize {
        let ext = match self.length_encoding {
            LengthEncoding::Bits7 => 0,
            LengthEncoding::Bits16 => 2,
            LengthEncoding::Bits64 => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// A header is never empty; this exists because `len` does.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Append the header's bytes to `out` (minimal length encoding, as §5.2 requires).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.bits();
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        out.push(b0);
        match LengthEncoding::minimal(self.payload_len) {
            LengthEncoding::Bits7 => out.push(m | self.payload_len as u8),
            LengthEncoding::Bits16 => {
                out.push(m | 126);
                out.extend_from_slice(&(self.payload_len as u16).to_be_bytes());
            }
            LengthEncoding::Bits64 => {
                out.push(m | 127);
                out.extend_from_slice(&self.payload_len.to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
    }
}

/// A whole frame: its header and its payload, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub header: FrameHeader,
    pub payload: Vec<u8>,
}

impl Frame {
    /// Read one complete frame from the front of `buf`, checking the header's rules first.
    /// `Complete { header_len }` here is the length of the *whole* frame.
    pub fn parse(
        buf: &[u8],
        receiver: Role,
        max_payload: usize,
    ) -> Result<Parsed<Frame>, ProtocolError> {
        let (header, header_len) = match FrameHeader::parse(buf)? {
            Parsed::Complete { value, header_len } => (value, header_len),
            Parsed::NeedMore { at_least } => return Ok(Parsed::NeedMore { at_least }),
        };
        header.check(receiver, max_payload)?;
        // `check` bounded payload_len by max_payload, a usize: this cannot truncate.
        let total = header_len + header.payload_len as usize;
        if buf.len() < total {
            return Ok(Parsed::NeedMore { at_least: total });
        }
        let mut payload = buf[header_len..total].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        Ok(Parsed::Complete {
            value: Frame { header, payload },
            header_len: total,
        })
    }

    /// Append a frame to `out`: header, then the payload masked with `mask` if given.
    pub fn encode(
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
        mask: Option<[u8; 4]>,
        out: &mut Vec<u8>,
    ) {
        FrameHeader::new(fin, opcode, mask, payload.len() as u64).emit(out);
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut out[start..], key, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6455 §5.7, byte for byte.
    const UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, // FIN + text, MASK + length 5
        0x37, 0xfa, 0x21, 0x3d, // masking key
        0x7f, 0x9f, 0x4d, 0x51, 0x58, // "Hello" masked
    ];
    const FRAG_HEL: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c]; // text, FIN=0, "Hel"
    const FRAG_LO: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f]; // continuation, FIN=1, "lo"
    const PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    const MASKED_PONG_HELLO: [u8; 11] = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    fn complete<T>(p: Parsed<T>) -> (T, usize) {
        match p {
            Parsed::Complete { value, header_len } => (value, header_len),
            Parsed::NeedMore { at_least } => panic!("needs {at_least} bytes"),
        }
    }

    #[test]
    fn rfc6455_5_7_single_frame_unmasked_text() {
        let (f, n) = complete(Frame::parse(&UNMASKED_HELLO, Role::Client, 1 << 20).unwrap());
        assert_eq!(n, 7);
        assert!(f.header.fin);
        assert_eq!(f.header.opcode, OpCode::Text);
        assert_eq!(f.header.mask, None);
        assert_eq!(f.payload, b"Hello");
    }

    #[test]
    fn rfc6455_5_7_single_frame_masked_text() {
        let (f, _) = complete(Frame::parse(&MASKED_HELLO, Role::Server, 1 << 20).unwrap());
        assert_eq!(f.header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(f.payload, b"Hello");
        let mut again = Vec::new();
        Frame::encode(true, OpCode::Text, b"Hello", f.header.mask, &mut again);
        assert_eq!(again, MASKED_HELLO);
    }

    #[test]
    fn rfc6455_5_7_fragmented_text() {
        let (a, _) = complete(Frame::parse(&FRAG_HEL, Role::Client, 100).unwrap());
        let (b, _) = complete(Frame::parse(&FRAG_LO, Role::Client, 100).unwrap());
        assert_eq!(
            (a.header.fin, a.header.opcode, a.payload.as_slice()),
            (false, OpCode::Text, &b"Hel"[..])
        );
        assert_eq!(
            (b.header.fin, b.header.opcode, b.payload.as_slice()),
            (true, OpCode::Continuation, &b"lo"[..])
        );
    }

    #[test]
    fn rfc6455_5_7_ping_and_masked_pong() {
        let (p, _) = complete(Frame::parse(&PING_HELLO, Role::Client, 100).unwrap());
        assert_eq!(
            (p.header.opcode, p.payload.as_slice()),
            (OpCode::Ping, &b"Hello"[..])
        );
        let (q, _) = complete(Frame::parse(&MASKED_PONG_HELLO, Role::Server, 100).unwrap());
        assert_eq!(
            (q.header.opcode, q.payload.as_slice()),
            (OpCode::Pong, &b"Hello"[..])
        );
    }

    #[test]
    fn rfc6455_5_7_256_bytes_and_64_kib() {
        let mut out = Vec::new();
        Frame::encode(true, OpCode::Binary, &[0u8; 256], None, &mut out);
        assert_eq!(out[..4], [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(out.len(), 4 + 256);
        let mut out = Vec::new();
        Frame::encode(true, OpCode::Binary, &vec![0u8; 65536], None, &mut out);
        assert_eq!(
            out[..10],
            [0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        let (f, n) = complete(Frame::parse(&out, Role::Client, 1 << 20).unwrap());
        assert_eq!((f.payload.len(), n), (65536, 65546));
        assert_eq!(f.header.length_encoding, LengthEncoding::Bits64);
    }

    #[test]
    fn minimal_length_encoding_at_the_edges() {
        for (len, header) in [(125u64, 2), (126, 4), (65535, 4), (65536, 10)] {
            assert_eq!(
                FrameHeader::new(true, OpCode::Binary, None, len).len(),
                header
            );
            let mut out = Vec::new();
            FrameHeader::new(true, OpCode::Binary, None, len).emit(&mut out);
            assert_eq!(out.len(), header, "{len}");
        }
    }

    #[test]
    fn header_prefixes_ask_for_more_bytes() {
        assert_eq!(
            FrameHeader::parse(&MASKED_HELLO[..1]).unwrap(),
            Parsed::NeedMore { at_least: 2 }
        );
        assert_eq!(
            FrameHeader::parse(&MASKED_HELLO[..4]).unwrap(),
            Parsed::NeedMore { at_least: 6 }
        );
        for n in 0..MASKED_HELLO.len() {
            assert!(matches!(
                Frame::parse(&MASKED_HELLO[..n], Role::Server, 100).unwrap(),
                Parsed::NeedMore { .. }
            ));
        }
    }

    #[test]
    fn a_2_62_byte_claim_is_refused_before_any_payload() {
        let mut h = vec![0x82, 0xff];
        h.extend_from_slice(&(1u64 << 62).to_be_bytes());
        h.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            Frame::parse(&h, Role::Server, 1 << 20),
            Err(ProtocolError::MessageTooBig {
                len: 1 << 62,
                max: 1 << 20
            })
        );
        h[2] = 0x80; // top bit set
        assert_eq!(
            Frame::parse(&h, Role::Server, 1 << 20),
            Err(ProtocolError::LengthTopBitSet)
        );
    }

    #[test]
    fn receiver_rules() {
        let masked = |b0: u8, len: u8| vec![b0, 0x80 | len, 0, 0, 0, 0];
        let check = |b: &[u8]| Frame::parse(b, Role::Server, 1000).map(|_| ());
        assert_eq!(
            check(&masked(0xC1, 0)),
            Err(ProtocolError::ReservedBitsSet { bits: 0b100 })
        );
        assert_eq!(
            check(&masked(0x83, 0)),
            Err(ProtocolError::ReservedOpcode { opcode: 3 })
        );
        assert_eq!(
            check(&[0x81, 0x00]),
            Err(ProtocolError::UnmaskedFrameFromClient)
        );
        assert_eq!(
            Frame::parse(&masked(0x81, 0), Role::Client, 10).map(|_| ()),
            Err(ProtocolError::MaskedFrameFromServer)
        );
        assert_eq!(
            check(&masked(0x09, 0)),
            Err(ProtocolError::FragmentedControlFrame {
                opcode: OpCode::Ping
            })
        );
        assert_eq!(
            check(&[0x89, 0xfe, 0x00, 0x7e, 0, 0, 0, 0]),
            Err(ProtocolError::ControlFrameTooLong {
                opcode: OpCode::Ping,
                len: 126
            })
        );
        assert_eq!(
            check(&masked(0x89, 125)[..6]),
            Ok(()),
            "needs more, no error"
        );
    }
}
