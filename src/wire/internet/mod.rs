//! Layer 3, the internet layer: packets from host to host.
//!
//! - [`ipv4`]: the IPv4 header, its options and fragments (RFC 791).
//! - [`ipv6`]: the IPv6 header and its extension headers (RFC 8200).
//! - [`fragments`]: a datagram's fragments put back together, IPv4 and IPv6 (RFC 791
//!   §3.2, RFC 8200 §4.5, RFC 5722).
//! - [`icmpv4`]: ICMP for IPv4, errors and echo (RFC 792).
//! - [`icmpv6`]: ICMPv6, an integral part of IPv6, neighbor discovery included (RFC 4443, RFC 4861).

pub mod fragments;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
