//! Layer 3, the internet layer: packets from host to host.
//!
//! - [`ipv4`]: the IPv4 header, its options and fragments (RFC 791).
//! - [`ipv6`]: the IPv6 header and its extension headers (RFC 8200).
//! - [`fragments`]: a datagram's fragments put back together, IPv4 and IPv6 (RFC 791
//!   §3.2, RFC 8200 §4.5, RFC 5722).
//! - [`icmpv4`]: ICMP for IPv4, errors and echo (RFC 792).
//! - [`icmpv6`]: ICMPv6, an integral part of IPv6 (RFC 4443), and two protocols carried
//!   in its messages: [`nd`], neighbor discovery and its options (RFC 4861), and [`mld`],
//!   multicast listener reports (RFC 3810).

pub mod fragments;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mld;
pub mod nd;
