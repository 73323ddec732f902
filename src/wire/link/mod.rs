//! Layer 2, the data link: the frame a capture hands over first.
//!
//! - [`ethernet`]: Ethernet II and the 802.1Q VLAN tag (IEEE 802.3, IEEE 802.1Q).
//! - [`sll`]: Linux cooked capture v1 and v2 (what `tcpdump -i any` records) and the BSD
//!   loopback header, pseudo-headers a capture writes in place of a link header.
//! - [`arp`]: ARP, which maps an IPv4 address to a MAC address on one link (RFC 826).

pub mod arp;
pub mod ethernet;
pub mod sll;
