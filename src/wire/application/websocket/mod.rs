//! WebSocket (RFC 6455), sans I/O: bytes in, meaning out; meaning in, bytes out.
//!
//! | | |
//! |---|---|
//! | OSI | 7 application (it rides on one TCP connection, after an HTTP/1.1 Upgrade) |
//! | TCP/IP (RFC 1122) | application |
//! | PDU | frame; one or more frames make a message |
//! | standard | RFC 6455; RFC 7692 (permessage-deflate compression) |
//!
//! The base framing protocol, RFC 6455 §5.2:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! :                     Payload Data continued ...                :
//! +---------------------------------------------------------------+
//! ```
//!
//! - [`frame`]: [`FrameHeader::parse`] / [`FrameHeader::emit`], the rules of §5.2 and §5.5.
//! - [`mask`]: the XOR of §5.3.
//! - [`opcode`], [`close`]: the code points (§5.2, §7.4).
//! - [`assemble`]: frames into messages (§5.4), UTF-8 checked as it arrives (§8.1).
//! - [`connection`]: one connection after the handshake, without I/O: received bytes in,
//!   [`Event`]s out, frames to send into an output buffer; the automatic replies (§5.5),
//!   failing the connection (§7.1.7) and the closing handshake (§7.1).
//! - [`handshake`]: the opening handshake of §4, both sides.
//! - [`extensions`]: the `Sec-WebSocket-Extensions` header (§9.1).
//! - [`deflate`]: permessage-deflate (RFC 7692): its negotiation and the compression of
//!   a message; [`connection`] sets RSV1 and calls it.
//!
//! Nothing here reads a socket, a clock or a random number generator: the masking key and
//! `Sec-WebSocket-Key` are arguments, so every test is deterministic. `net::ws` puts a
//! [`Connection`] on a TCP connection (reading, writing and the timers); the capture
//! decoder uses the codec to explain frames it sees.

pub mod assemble;
mod buffers;
pub mod close;
pub mod connection;
pub mod deflate;
pub mod extensions;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod opcode;

pub use assemble::{Incoming, Message, MessageAssembler, MessageKind, Utf8Validator};
pub use close::CloseCode;
pub use connection::{CloseState, Connection, Event, Limits, MaskKeys, SendError};
pub use deflate::{Compress, DeflateNote, Uncompressed};
pub use frame::{Frame, FrameHeader, LengthEncoding, Parsed};
pub use mask::apply_mask;
pub use opcode::OpCode;

use serde::Serialize;

/// Which end of the connection we are (the one `wire::Role`). It decides who masks
/// (§5.3: clients always, servers never).
pub use crate::wire::Role;

impl Role {
    /// Must frames *sent* by this role be masked?
    pub fn masks(self) -> bool {
        self == Role::Client
    }

    /// The role of the other end.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// A rule of RFC 6455 the peer broke. Each maps to the close code we answer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProtocolError {
    #[error("RSV bits {bits:#05b} set without a negotiated extension (§5.2)")]
    ReservedBitsSet { bits: u8 },
    #[error("reserved opcode {opcode:#x} (§5.2)")]
    ReservedOpcode { opcode: u8 },
    #[error("a client sent an unmasked frame; clients must mask every frame (§5.3)")]
    UnmaskedFrameFromClient,
    #[error("a server sent a masked frame; servers must not mask (§5.1)")]
    MaskedFrameFromServer,
    #[error("a 64-bit payload length with its most significant bit set (§5.2)")]
    LengthTopBitSet,
    #[error("a {opcode} frame of {len} bytes: control frames carry at most 125 (§5.5)")]
    ControlFrameTooLong { opcode: OpCode, len: u64 },
    #[error("a fragmented {opcode} frame: control frames must not be fragmented (§5.5)")]
    FragmentedControlFrame { opcode: OpCode },
    #[error("a continuation frame with no message to continue (§5.4)")]
    UnexpectedContinuation,
    #[error("a new {opcode} message began before the previous one finished (§5.4)")]
    ExpectedContinuation { opcode: OpCode },
    #[error("a close frame with a 1-byte payload: a status code takes 2 (§5.5.1)")]
    CloseTooShort,
    #[error("close code {code} may not be sent on the wire (§7.4)")]
    BadCloseCode { code: u16 },
    #[error("text that is not valid UTF-8 (§8.1)")]
    InvalidUtf8,
    #[error("a message of at least {len} bytes exceeds the limit of {max} bytes")]
    MessageTooBig { len: u64, max: usize },
    #[error("RSV1 on a {opcode} frame: control frames are never compressed (RFC 7692 §6.1)")]
    CompressedControlFrame { opcode: OpCode },
    #[error(
        "RSV1 on a continuation frame: only a message's first frame carries it (RFC 7692 §6.1)"
    )]
    CompressedContinuation,
    #[error("a compressed message that does not inflate (RFC 7692 §6.2)")]
    BadDeflateData,
}

impl ProtocolError {
    /// The close code to fail the connection with (§7.4.1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            // Data that is not what its type says: text that is not UTF-8, or compressed
            // bytes that are not DEFLATE.
            ProtocolError::InvalidUtf8 | ProtocolError::BadDeflateData => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}
