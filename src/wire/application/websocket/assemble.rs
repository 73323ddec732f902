//! From frames to messages, RFC 6455 §5.4 (fragmentation) and §8.1 (UTF-8).
//!
//! A message is one data frame with FIN set, or a text/binary frame without FIN followed
//! by continuation frames, the last with FIN. Control frames (close, ping, pong) may come
//! *between* the fragments of a message, never inside a frame; they are handed out at
//! once. Text is checked as UTF-8 fragment by fragment, so an invalid sequence fails the
//! connection as soon as it is certain, not only when the message is complete.

use super::close::CloseFrame;
use super::{Frame, OpCode, ProtocolError};
use serde::Serialize;

/// Text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Binary,
}

impl MessageKind {
    pub fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A complete message. For `Text`, `payload` is valid UTF-8 (the assembler checked it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: MessageKind,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn text(s: impl Into<String>) -> Message {
        Message {
            kind: MessageKind::Text,
            payload: s.into().into_bytes(),
        }
    }

    pub fn binary(b: impl Into<Vec<u8>>) -> Message {
        Message {
            kind: MessageKind::Binary,
            payload: b.into(),
        }
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self.kind {
            MessageKind::Text => std::str::from_utf8(&self.payload).ok(),
            MessageKind::Binary => None,
        }
    }
}

/// What a complete frame amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A fragment was stored; the message is not complete yet.
    Fragment,
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseFrame),
}

/// UTF-8 validation that can be fed in pieces (a multi-byte character may be split
/// between fragments). It fails as soon as no continuation could make the bytes valid.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The start of a character cut off at the end of the last piece (at most 3 bytes).
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Validator {
    /// Check the next piece. `Err` means the text is certainly invalid.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), ProtocolError> {
        // First finish the character the last piece cut off, one byte at a time.
        while self.pending_len > 0 {
            let Some((&b, rest)) = data.split_first() else {
                return Ok(()); // still incomplete; wait for more
            };
            self.pending[self.pending_len] = b;
            self.pending_len += 1;
            data = rest;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => return Err(ProtocolError::InvalidUtf8),
                Err(_) => {} // a valid prefix: keep going
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the piece ends in the middle of a character that
            // could still be completed. Anything else is invalid for sure.
            Err(e) if e.error_len().is_none() => {
                let tail = &data[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
            Err(_) => Err(ProtocolError::InvalidUtf8),
        }
    }

    /// The text is over: a character left incomplete makes it invalid.
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        let complete = self.pending_len == 0;
        self.pending_len = 0;
        if complete {
            Ok(())
        } else {
            Err(ProtocolError::InvalidUtf8)
        }
    }
}

/// Turns frames into [`Incoming`] items, enforcing §5.4 and a maximum message size.
#[derive(Debug, Clone)]
pub struct MessageAssembler {
    max_message: usize,
    partial: Option<Message>,
    utf8: Utf8Validator,
}

impl MessageAssembler {
    pub fn new(max_message: usize) -> MessageAssembler {
        MessageAssembler {
            max_message,
            partial: None,
            utf8: Utf8Validator::default(),
        }
    }

    /// The largest message this assembler accepts, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Bytes of the message being assembled so far (0 when none is in progress).
    pub fn partial_len(&self) -> usize {
        self.partial.as_ref().map_or(0, |m| m.payload.len())
    }

    /// Is a fragmented message in progress?
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    /// Is a fragmented text message in progress? (Its next bytes must continue UTF-8.)
    pub fn in_text_message(&self) -> bool {
        matches!(&self.partial, Some(m) if m.kind == MessageKind::Text)
    }

    /// Check a piece of a text payload that is still arriving, so invalid UTF-8 can fail
    /// before the whole frame is in. `validator` starts as a clone of the assembler's
    /// state ([`utf8_state`](Self::utf8_state)) or fresh for a new text message.
    pub fn utf8_state(&self) -> Utf8Validator {
        if self.in_text_message() {
            self.utf8.clone()
        } else {
            Utf8Validator::default()
        }
    }

    /// Take one complete frame (already checked by `FrameHeader::check`).
    pub fn push(&mut self, frame: Frame) -> Result<Incoming, ProtocolError> {
        let Frame { header, payload } = frame;
        match header.opcode {
            OpCode::Close => Ok(Incoming::Close(CloseFrame::parse(&payload)?)),
            OpCode::Ping => Ok(Incoming::Ping(payload)),
            OpCode::Pong => Ok(Incoming::Pong(payload)),
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(ProtocolError::ExpectedContinuation {
                        opcode: header.opcode,
                    });
                }
                self.check_size(payload.len())?;
                let kind = if header.opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                if header.fin {
                    if kind == MessageKind::Text && std::str::from_utf8(&payload).is_err() {
                        return Err(ProtocolError::InvalidUtf8);
                    }
                    return Ok(Incoming::Message(Message { kind, payload }));
                }
                if kind == MessageKind::Text {
                    self.utf8 = Utf8Validator::default();
                    self.utf8.feed(&payload)?;
                }
                self.partial = Some(Message { kind, payload });
                Ok(Incoming::Fragment)
            }
            OpCode::Continuation => {
                let total = self.partial_len() + payload.len();
                let Some(partial) = self.partial.as_mut() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                if total > self.max_message {
                    return Err(ProtocolError::MessageTooBig {
                        len: total as u64,
                        max: self.max_message,
                    });
                }
                if partial.kind == MessageKind::Text {
                    self.utf8.feed(&payload)?;
                    if header.fin {
                        self.utf8.finish()?;
                    }
                }
                partial.payload.extend_from_slice(&payload);
                if header.fin {
                    // Just checked that `partial` is Some.
                    Ok(self
                        .partial
                        .take()
                        .map_or(Incoming::Fragment, Incoming::Message))
                } else {
                    Ok(Incoming::Fragment)
                }
            }
            OpCode::Reserved(opcode) => Err(ProtocolError::ReservedOpcode { opcode }),
        }
    }

    fn check_size(&self, len: usize) -> Result<(), ProtocolError> {
        if len > self.max_message {
            Err(ProtocolError::MessageTooBig {
                len: len as u64,
                max: self.max_message,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::FrameHeader;
    use super::*;

    fn frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Frame {
        Frame {
            header: FrameHeader::new(fin, opcode, None, payload.len() as u64),
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn rfc6455_5_7_fragmented_hello_with_a_ping_between() {
        let mut a = MessageAssembler::new(100);
        assert_eq!(
            a.push(frame(false, OpCode::Text, b"Hel")),
            Ok(Incoming::Fragment)
        );
        assert_eq!(
            a.push(frame(true, OpCode::Ping, b"x")),
            Ok(Incoming::Ping(b"x".to_vec()))
        );
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"lo")),
            Ok(Incoming::Message(Message::text("Hello")))
        );
    }

    #[test]
    fn fragmentation_rules() {
        let mut a = MessageAssembler::new(100);
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"x")),
            Err(ProtocolError::UnexpectedContinuation)
        );
        a.push(frame(false, OpCode::Binary, b"a")).unwrap();
        assert_eq!(
            a.push(frame(true, OpCode::Text, b"b")),
            Err(ProtocolError::ExpectedContinuation {
                opcode: OpCode::Text
            })
        );
    }

    #[test]
    fn size_limit_counts_every_fragment() {
        let mut a = MessageAssembler::new(4);
        a.push(frame(false, OpCode::Binary, b"abc")).unwrap();
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"de")),
            Err(ProtocolError::MessageTooBig { len: 5, max: 4 })
        );
    }

    #[test]
    fn utf8_split_across_fragments_is_fine() {
        // "κόσμε": 0xCE 0xBA | 0xE1 0xBD 0xB9 ... split in the middle of characters.
        let text = "κόσμε".as_bytes();
        for cut in 0..=text.len() {
            let mut a = MessageAssembler::new(100);
            a.push(frame(false, OpCode::Text, &text[..cut])).unwrap();
            let got = a.push(frame(true, OpCode::Continuation, &text[cut..]));
            assert_eq!(got, Ok(Incoming::Message(Message::text("κόσμε"))), "{cut}");
        }
    }

    #[test]
    fn invalid_utf8_fails_as_soon_as_certain() {
        // 0xCE 0xBA is "κ"; 0xF4 0x90 can never start a valid sequence (above U+10FFFF).
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xCE]), Ok(()));
        assert_eq!(v.feed(&[0xBA, 0xF4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(ProtocolError::InvalidUtf8));
        // A message that ends mid-character is invalid.
        let mut a = MessageAssembler::new(100);
        a.push(frame(false, OpCode::Text, &[0xE2, 0x82])).unwrap();
        assert_eq!(
            a.push(frame(true, OpCode::Continuation, b"")),
            Err(ProtocolError::InvalidUtf8)
        );
        // Binary messages are not checked.
        let mut a = MessageAssembler::new(100);
        assert!(a.push(frame(true, OpCode::Binary, &[0xff])).is_ok());
        assert_eq!(
            a.push(frame(true, OpCode::Text, &[0xff])),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn close_payloads_are_checked() {
        let mut a = MessageAssembler::new(100);
        assert_eq!(
            a.push(frame(true, OpCode::Close, &[0x03])),
            Err(ProtocolError::CloseTooShort)
        );
        assert!(matches!(
            a.push(frame(true, OpCode::Close, &[0x03, 0xe8])),
            Ok(Incoming::Close(_))
        ));
    }
}
