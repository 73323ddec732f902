//! What bytes mean. Pure code: no sockets, no tokio, no clock, no randomness, no printing.
//!
//! # The view / `Repr` contract
//!
//! Every protocol module here follows one shape (after smoltcp's `wire` module):
//!
//! - A **view** named after the protocol's unit of data (`udp::Datagram`, `tcp::Segment`,
//!   `websocket::Frame`) wraps a byte buffer without copying it. `new_checked` runs
//!   `check_len` once; after that no accessor can panic.
//! - Field offsets live in one place, `mod field`, as ranges. One `FIELDS` table of
//!   [`FieldSpec`]s per header, built from them, names each field and says what it is
//!   for; `Repr::fields` fills it in with the decoded values ([`Field`]s, see `field.rs`),
//!   so the layer tree, JSON and the hexdump's byte labels use the same names and the
//!   same constants the parser uses.
//! - A **`Repr`** is the owned meaning of a header (`parse` from a view, `emit` into a
//!   buffer) with a one-line `Display`.
//! - Errors name the defect ([`Error::Truncated`], [`Error::BadLength`], …). Truncated
//!   input is always an error, never a panic; tests check every prefix.
//!
//! Randomness and time are inputs: a masking key or a timestamp is passed in by `net` or
//! `cmd`, so every test here is deterministic.
//!
//! # The table of contents
//!
//! The folders follow the layers, bottom up, as a textbook does (see `layers.rs` for where
//! each protocol sits in the OSI and TCP/IP models):
//!
//! | folder | what it reads | RFCs |
//! |---|---|---|
//! | [`link`] | Ethernet II and 802.1Q, Linux cooked capture (SLL, SLL2), BSD loopback, ARP | IEEE 802.3, RFC 826 |
//! | [`internet`] | IPv4, IPv6 and its extension headers, ICMPv4, ICMPv6 | RFC 791, 8200, 792, 4443 |
//! | [`transport`] | TCP segments and their options, UDP datagrams | RFC 9293, 7323, 768 |
//! | [`application`] | HTTP/1.x heads, WebSocket, DNS, polling and Server-Sent Events, message framing on a stream, the TLS record header | RFC 9112, 6455, 1035, 8446 |
//! | [`dissect`] | a captured frame walked layer by layer, the filter language, TCP conversations and their reassembly, application messages decoded from reassembled streams | |
//! | [`measure`] | what a receiver can tell from numbered datagrams: netlab's probe header, loss and reordering, RFC 3550 jitter, the relay's seeded impairment | RFC 3550 |
//!
//! Beside them: [`checksum`] (the Internet checksum and the pseudo-headers, shared by
//! IPv4, ICMP, TCP and UDP), `field.rs` ([`Field`], [`FieldSpec`]) and [`text`] (numbers
//! and addresses written without the formatter, for the capture views' speed).

pub mod application;
pub mod checksum;
pub mod dissect;
mod field;
pub mod internet;
pub mod link;
pub mod measure;
pub mod text;
pub mod transport;

pub use field::{Field, FieldSpec};

/// Which end of a connection: the client opens it, the server accepts it (RFC 9110 §3.3
/// says the same of HTTP). TCP, WebSocket and the push transports all use this one
/// word; WebSocket adds its masking rule to it (`websocket::Role::must_mask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Client,
    Server,
}

use crate::layers::Protocol;
use serde::Serialize;
use std::ops::Range;

/// Why bytes could not be read as the protocol they were meant to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Error {
    #[error("{protocol}: truncated: needs {needed} bytes, only {got} present")]
    Truncated {
        protocol: Protocol,
        needed: usize,
        got: usize,
    },
    #[error("{protocol}: a length field claims {claimed} bytes but {available} are present")]
    BadLength {
        protocol: Protocol,
        claimed: usize,
        available: usize,
    },
    #[error("{protocol}: {reason}")]
    Malformed {
        protocol: Protocol,
        reason: &'static str,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The guard every view runs before its first accessor: `buf` must hold at least
/// `needed` bytes of `protocol`, or the answer is [`Error::Truncated`] (never a panic).
pub fn need_len(buf: &[u8], needed: usize, protocol: Protocol) -> Result<()> {
    if buf.len() < needed {
        return Err(Error::Truncated {
            protocol,
            needed,
            got: buf.len(),
        });
    }
    Ok(())
}

/// Read a big-endian (network order) u16 at `at`. The caller has checked the length.
pub fn be16(buf: &[u8], at: Range<usize>) -> u16 {
    u16::from_be_bytes([buf[at.start], buf[at.start + 1]])
}

/// Read a big-endian u32 at `at`. The caller has checked the length.
pub fn be32(buf: &[u8], at: Range<usize>) -> u32 {
    u32::from_be_bytes([
        buf[at.start],
        buf[at.start + 1],
        buf[at.start + 2],
        buf[at.start + 3],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_byte_order() {
        let b = [0x12, 0x34, 0x56, 0x78];
        assert_eq!(be16(&b, 0..2), 0x1234);
        assert_eq!(be32(&b, 0..4), 0x1234_5678);
        let e = Error::Truncated {
            protocol: Protocol::Udp,
            needed: 8,
            got: 3,
        };
        assert_eq!(
            e.to_string(),
            "UDP: truncated: needs 8 bytes, only 3 present"
        );
    }
}
