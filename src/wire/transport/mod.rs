//! Layer 4, the transport layer: from a port on one host to a port on another.
//!
//! - [`tcp`]: the TCP segment, its flags and options (RFC 9293, RFC 7323, RFC 2018).
//! - [`udp`]: the UDP datagram (RFC 768).
//!
//! Both checksums cover a pseudo-header taken from the IP layer: see [`super::checksum`].

pub mod tcp;
pub mod udp;

use serde::Serialize;

/// Which of the two transport protocols: TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }
}
