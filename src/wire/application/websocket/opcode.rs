//! Opcodes, RFC 6455 §5.2 and §11.8: what a frame's payload is.

use serde::{Serialize, Serializer};
use std::fmt;

/// The 4-bit opcode. `0x3`–`0x7` and `0xB`–`0xF` are reserved and must make the
/// receiver fail the connection (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: more of the message that a text or binary frame began.
    Continuation,
    /// 0x1: the first frame of a UTF-8 text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close (control).
    Close,
    /// 0x9: ping (control); answered by a pong with the same payload.
    Ping,
    /// 0xA: pong (control).
    Pong,
    /// Any other value.
    Reserved(u8),
}

impl OpCode {
    pub fn from_bits(bits: u8) -> OpCode {
        match bits & 0x0f {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            other => OpCode::Reserved(other),
        }
    }

    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(b) => b & 0x0f,
        }
    }

    /// Control frames have the high bit of the opcode set (§5.5).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }

    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
            OpCode::Reserved(_) => "reserved",
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpCode::Reserved(b) => write!(f, "reserved({b:#x})"),
            other => f.write_str(other.name()),
        }
    }
}

impl Serialize for OpCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_round_trips() {
        for b in 0u8..16 {
            let op = OpCode::from_bits(b);
            assert_eq!(op.bits(), b);
            assert_eq!(op.is_control(), b >= 8);
            let reserved = matches!(op, OpCode::Reserved(_));
            assert_eq!(reserved, matches!(b, 3..=7 | 0xB..=0xF), "{b:#x}");
        }
    }
}
