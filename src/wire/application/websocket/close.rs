//! Close frames and status codes, RFC 6455 §5.5.1 and §7.4.
//!
//! A close frame's payload is empty, or a 2-byte status code in network byte order
//! followed by a UTF-8 reason. Each side sends one close frame and answers the other's;
//! after both, the TCP connection is closed (the server closes first, §7.1.1).

use super::ProtocolError;
use serde::Serialize;
use std::fmt;

/// A close status code (§7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: going away (a server shutting down, a browser leaving the page).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a kind of data this endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Reported locally, never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a close frame. Reported locally, never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with its type (text that is not UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a policy was violated.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: (client) the server did not negotiate an extension it needed.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: (server) an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1015: the TLS handshake failed. Reported locally, never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// May this code appear in a close frame on the wire? 1000–1003 and 1007–1011 (defined
    /// by RFC 6455), 1012–1014 (registered later with IANA), and 3000–4999 (libraries and
    /// applications). 1004 is reserved; 1005, 1006 and 1015 are for local reporting only;
    /// everything else below 3000 is unassigned, and 5000 and above is not a close code.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    pub fn meaning(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received (local only)",
            1006 => "abnormal closure (local only)",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failed (local only)",
            3000..=3999 => "registered for libraries and frameworks",
            4000..=4999 => "private use by applications",
            _ => "not a valid close code",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.meaning())
    }
}

/// The meaning of a close frame's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseFrame {
    /// `None` for an empty payload (the receiver then reports 1005).
    pub code: Option<CloseCode>,
    pub reason: String,
}

impl CloseFrame {
    pub fn new(code: CloseCode, reason: impl Into<String>) -> CloseFrame {
        CloseFrame {
            code: Some(code),
            reason: reason.into(),
        }
    }

    /// Read a received close payload (already unmasked), enforcing §5.5.1 and §7.4.
    pub fn parse(payload: &[u8]) -> Result<CloseFrame, ProtocolError> {
        match payload {
            [] => Ok(CloseFrame {
                code: None,
                reason: String::new(),
            }),
            [_] => Err(ProtocolError::CloseTooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(ProtocolError::BadCloseCode { code: code.0 });
                }
                let reason = std::str::from_utf8(reason)
                    .map_err(|_| ProtocolError::InvalidUtf8)?
                    .to_owned();
                Ok(CloseFrame {
                    code: Some(code),
                    reason,
                })
            }
        }
    }

    /// The payload to send. The reason is cut (at a character boundary) so the payload
    /// fits the 125 bytes a control frame may carry.
    pub fn payload(&self) -> Vec<u8> {
        let Some(code) = self.code else {
            return Vec::new();
        };
        let mut p = code.0.to_be_bytes().to_vec();
        let mut end = self.reason.len().min(123);
        while !self.reason.is_char_boundary(end) {
            end -= 1;
        }
        p.extend_from_slice(&self.reason.as_bytes()[..end]);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_allowed_on_the_wire() {
        for c in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999,
        ] {
            assert!(CloseCode(c).is_sendable(), "{c}");
        }
        for c in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!CloseCode(c).is_sendable(), "{c}");
        }
    }

    #[test]
    fn parse_and_emit() {
        let f = CloseFrame::new(CloseCode::NORMAL, "bye");
        assert_eq!(f.payload(), [0x03, 0xe8, b'b', b'y', b'e']);
        assert_eq!(CloseFrame::parse(&f.payload()).unwrap(), f);
        assert_eq!(CloseFrame::parse(&[]).unwrap().code, None);
        assert_eq!(CloseFrame::parse(&[3]), Err(ProtocolError::CloseTooShort));
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed]),
            Err(ProtocolError::BadCloseCode { code: 1005 })
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidUtf8)
        );
    }

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let f = CloseFrame::new(CloseCode::NORMAL, "é".repeat(100));
        let p = f.payload();
        assert!(p.len() <= 125);
        assert!(std::str::from_utf8(&p[2..]).is_ok());
    }
}
