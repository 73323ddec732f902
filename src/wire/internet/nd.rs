//! Neighbor Discovery (RFC 4861): how IPv6 hosts find each other's MAC addresses, find
//! routers and learn the prefixes and MTU of their link, all in ICMPv6 messages.
//!
//! OSI layer 3 (network), inside ICMPv6 · TCP/IP internet layer · PDU: **message**.
//! It replaces IPv4's ARP, and adds what DHCP and manual set-up did for IPv4.
//!
//! | type | message | after the 4-byte body word | options |
//! |---|---|---|---|
//! | 133 | router solicitation | - | source link-layer address |
//! | 134 | router advertisement | reachable time, retransmission timer | source link-layer address, MTU, prefix information |
//! | 135 | neighbor solicitation | target address | source link-layer address, nonce |
//! | 136 | neighbor advertisement | target address | target link-layer address |
//! | 137 | redirect | target and destination address | target link-layer address, redirected header |
//!
//! Every option is a type, a length in units of 8 bytes (so 0 is invalid: RFC 4861
//! §4.6 says to drop the message), then its data:
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     Type      |    Length     |  data ... (Length × 8 - 2)    |
//! +---------------+---------------+-------------------------------+
//! prefix information (type 3, length 4):
//! | 3 | 4 | prefix length | L A reserved | valid lifetime (32) | preferred lifetime (32) |
//! | reserved (32) | prefix (128) |
//! ```
//!
//! Duplicate address detection (RFC 4862 §5.4) sends a neighbor solicitation from the
//! unspecified address `::` for the address a host wants; Linux adds a **nonce** option
//! (RFC 3971 §5.3.2, reused by RFC 7527) so that it can tell its own solicitation, looped
//! back, from another host's.

use crate::layers::Protocol;
use crate::wire::link::ethernet::Mac;
use crate::wire::{be16, be32, Error, Field, Result};
use core::net::Ipv6Addr;
use serde::Serialize;

/// Option types (IANA's "IPv6 Neighbor Discovery Option Formats").
pub mod option {
    pub const SOURCE_LINK_ADDR: u8 = 1;
    pub const TARGET_LINK_ADDR: u8 = 2;
    pub const PREFIX_INFO: u8 = 3;
    pub const REDIRECTED_HEADER: u8 = 4;
    pub const MTU: u8 = 5;
    /// RFC 3971 §5.3.2.
    pub const NONCE: u8 = 14;
    /// RFC 4191.
    pub const ROUTE_INFO: u8 = 24;
    /// RFC 8106: DNS servers and the search list.
    pub const RDNSS: u8 = 25;
    pub const DNSSL: u8 = 31;
}

/// Options are counted in units of 8 bytes.
pub const OPTION_UNIT: usize = 8;

/// Offsets in a router advertisement, from the ICMPv6 message's first byte.
pub mod field {
    use std::ops::Range;
    pub const CUR_HOP_LIMIT: Range<usize> = 4..5;
    pub const RA_FLAGS: Range<usize> = 5..6;
    pub const ROUTER_LIFETIME: Range<usize> = 6..8;
    pub const REACHABLE_TIME: Range<usize> = 8..12;
    pub const RETRANS_TIMER: Range<usize> = 12..16;
    /// Neighbor advertisement: R, S and O are the body word's three highest bits.
    pub const NA_FLAGS: Range<usize> = 4..8;
}

/// Where a neighbor discovery message's options start (its fixed part's length), or
/// `None` for a type that is not neighbor discovery.
pub fn options_start(msg_type: u8) -> Option<usize> {
    match msg_type {
        133 => Some(8),
        134 => Some(16),
        135 | 136 => Some(24),
        137 => Some(40),
        _ => None,
    }
}

/// A router advertisement's fixed part (RFC 4861 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouterAdvert {
    /// The hop limit hosts should put in their packets (0: unspecified).
    pub cur_hop_limit: u8,
    /// M (addresses from DHCPv6), O (other settings from DHCPv6), then others.
    pub flags: u8,
    /// Seconds this router may be the default router (0: it is not one).
    pub router_lifetime: u16,
    /// Milliseconds a neighbor counts as reachable after a confirmation (0: unspecified).
    pub reachable_time: u32,
    /// Milliseconds between neighbor solicitations (0: unspecified).
    pub retrans_timer: u32,
}

impl RouterAdvert {
    /// The fixed part of `message` (an ICMPv6 router advertisement), if it is all there.
    pub fn parse(message: &[u8]) -> Option<RouterAdvert> {
        (message.len() >= field::RETRANS_TIMER.end).then(|| RouterAdvert {
            cur_hop_limit: message[field::CUR_HOP_LIMIT.start],
            flags: message[field::RA_FLAGS.start],
            router_lifetime: be16(message, field::ROUTER_LIFETIME),
            reachable_time: be32(message, field::REACHABLE_TIME),
            retrans_timer: be32(message, field::RETRANS_TIMER),
        })
    }

    pub fn fields(&self) -> Vec<Field> {
        vec![
            Field::new(
                "cur_hop_limit",
                self.cur_hop_limit.to_string(),
                field::CUR_HOP_LIMIT,
                "the hop limit hosts should use (0: their own choice)",
            ),
            Field::new(
                "flags",
                format!(
                    "0x{:02x}{}{}",
                    self.flags,
                    if self.flags & 0x80 != 0 {
                        " M (addresses by DHCPv6)"
                    } else {
                        ""
                    },
                    if self.flags & 0x40 != 0 {
                        " O (other settings by DHCPv6)"
                    } else {
                        ""
                    }
                ),
                field::RA_FLAGS,
                "M: managed address configuration, O: other configuration",
            ),
            Field::new(
                "router_lifetime",
                format!("{} s", self.router_lifetime),
                field::ROUTER_LIFETIME,
                "how long this router may be a default router (0: not one)",
            ),
            Field::new(
                "reachable_time",
                format!("{} ms", self.reachable_time),
                field::REACHABLE_TIME,
                "how long a confirmed neighbor counts as reachable (0: unspecified)",
            ),
            Field::new(
                "retrans_timer",
                format!("{} ms", self.retrans_timer),
                field::RETRANS_TIMER,
                "time between neighbor solicitations (0: unspecified)",
            ),
        ]
    }
}

/// A neighbor advertisement's flags: the body word's three highest bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NaFlags {
    /// R: the sender is a router.
    pub router: bool,
    /// S: an answer to a solicitation (not an unsolicited announcement).
    pub solicited: bool,
    /// O: replace a cached link-layer address.
    #[serde(rename = "override")]
    pub override_: bool,
}

impl NaFlags {
    pub fn from_word(w: u32) -> NaFlags {
        NaFlags {
            router: w & 0x8000_0000 != 0,
            solicited: w & 0x4000_0000 != 0,
            override_: w & 0x2000_0000 != 0,
        }
    }

    /// "rtr, sol, ovr", Wireshark's words, for the flags that are set.
    pub fn describe(&self) -> String {
        let set: Vec<&str> = [
            (self.router, "rtr"),
            (self.solicited, "sol"),
            (self.override_, "ovr"),
        ]
        .iter()
        .filter(|f| f.0)
        .map(|f| f.1)
        .collect();
        set.join(", ")
    }
}

/// Prefix information (RFC 4861 §4.6.2): a prefix on this link, and whether hosts may
/// make addresses in it (A, RFC 4862) and reach it directly (L, on-link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PrefixInfo {
    pub prefix_len: u8,
    /// L (0x80) on-link, A (0x40) autonomous address configuration.
    pub flags: u8,
    /// Seconds; 0xffffffff is forever.
    pub valid_lifetime: u32,
    pub preferred_lifetime: u32,
    pub prefix: Ipv6Addr,
}

/// One neighbor discovery option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdOption<'a> {
    pub kind: u8,
    /// The length byte: units of 8 bytes, type and length included.
    pub units: u8,
    /// Where the option starts, from the ICMPv6 message's first byte.
    pub offset: usize,
    /// The bytes after the type and length.
    pub data: &'a [u8],
}

impl NdOption<'_> {
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + usize::from(self.units) * OPTION_UNIT
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            option::SOURCE_LINK_ADDR => "source link-layer address",
            option::TARGET_LINK_ADDR => "target link-layer address",
            option::PREFIX_INFO => "prefix information",
            option::REDIRECTED_HEADER => "redirected header",
            option::MTU => "MTU",
            option::NONCE => "nonce",
            option::ROUTE_INFO => "route information",
            option::RDNSS => "recursive DNS server",
            option::DNSSL => "DNS search list",
            _ => "unknown option",
        }
    }

    /// Source or target link-layer address: a MAC on Ethernet (the first 6 data bytes).
    pub fn link_addr(&self) -> Option<Mac> {
        match self.kind {
            option::SOURCE_LINK_ADDR | option::TARGET_LINK_ADDR if self.data.len() >= 6 => {
                Some(Mac::from_slice(&self.data[..6]))
            }
            _ => None,
        }
    }

    /// The MTU option: 2 reserved bytes, then the link's MTU.
    pub fn mtu(&self) -> Option<u32> {
        (self.kind == option::MTU && self.data.len() >= 6).then(|| be32(self.data, 2..6))
    }

    /// The nonce option's random bytes.
    pub fn nonce(&self) -> Option<&[u8]> {
        (self.kind == option::NONCE).then_some(self.data)
    }

    pub fn prefix_info(&self) -> Option<PrefixInfo> {
        if self.kind != option::PREFIX_INFO || self.data.len() < 30 {
            return None;
        }
        let d = self.data;
        let mut a = [0u8; 16];
        a.copy_from_slice(&d[14..30]);
        Some(PrefixInfo {
            prefix_len: d[0],
            flags: d[1],
            valid_lifetime: be32(d, 2..6),
            preferred_lifetime: be32(d, 6..10),
            prefix: Ipv6Addr::from(a),
        })
    }

    /// The value as the layer view shows it.
    pub fn describe(&self) -> String {
        let head = format!(
            "{} (type {}, {} bytes)",
            self.name(),
            self.kind,
            usize::from(self.units) * OPTION_UNIT
        );
        if let Some(m) = self.link_addr() {
            return format!("{head}: {m}");
        }
        if let Some(m) = self.mtu() {
            return format!("{head}: {m}");
        }
        if let Some(p) = self.prefix_info() {
            let lifetime = |s: u32| {
                if s == u32::MAX {
                    "forever".to_owned()
                } else {
                    format!("{s} s")
                }
            };
            return format!(
                "{head}: {}/{}{}{}, valid {}, preferred {}",
                p.prefix,
                p.prefix_len,
                if p.flags & 0x80 != 0 { " on-link" } else { "" },
                if p.flags & 0x40 != 0 {
                    " autonomous"
                } else {
                    ""
                },
                lifetime(p.valid_lifetime),
                lifetime(p.preferred_lifetime)
            );
        }
        if let Some(n) = self.nonce() {
            let hex: String = n.iter().map(|b| format!("{b:02x}")).collect();
            return format!("{head}: {hex}");
        }
        head
    }
}

/// Walk the options of neighbor discovery message `message` (the whole ICMPv6 message)
/// from `start`. Each option takes at least 8 bytes, so the walk ends; a length of zero
/// or an option past the end is an error, after the options before it were handed over.
pub fn walk_options<'a>(
    message: &'a [u8],
    start: usize,
    mut each: impl FnMut(NdOption<'a>),
) -> Result<()> {
    let mut at = start;
    while at < message.len() {
        let (Some(&kind), Some(&units)) = (message.get(at), message.get(at + 1)) else {
            return Err(Error::Truncated {
                protocol: Protocol::Icmpv6,
                needed: at + 2,
                got: message.len(),
            });
        };
        if units == 0 {
            // RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an
            // option with length zero."
            return Err(Error::Malformed {
                protocol: Protocol::Icmpv6,
                reason: "a neighbor discovery option has length 0 (RFC 4861 §4.6)",
            });
        }
        let end = at + usize::from(units) * OPTION_UNIT;
        let Some(data) = message.get(at + 2..end) else {
            return Err(Error::Truncated {
                protocol: Protocol::Icmpv6,
                needed: end,
                got: message.len(),
            });
        };
        each(NdOption {
            kind,
            units,
            offset: at,
            data,
        });
        at = end;
    }
    Ok(())
}

/// The options of `message` as fields for the views (a malformed one named as such).
pub fn option_fields(message: &[u8], start: usize, v: &mut Vec<Field>) {
    let walked = walk_options(message, start, |o| {
        v.push(Field::new(
            "option",
            o.describe(),
            o.span(),
            "one neighbor discovery option: type, length in 8-byte units, data",
        ));
    });
    if let Err(e) = walked {
        v.push(Field::new(
            "options",
            format!("malformed: {e}"),
            start.min(message.len())..message.len(),
            "neighbor discovery options",
        ));
    }
}

/// The first link-layer address option's MAC (the one-line view names it, as
/// Wireshark's "from" and "is at" do).
pub fn first_link_addr(message: &[u8], start: usize) -> Option<Mac> {
    let mut found = None;
    let _ = walk_options(message, start, |o| {
        if found.is_none() {
            found = o.link_addr();
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router advertisement in `tests/fixtures/ipv6-nd-mld-netns.pcap` (python3's,
    /// checksum as the kernel filled it in): hop limit 64, lifetime 1800 s, then source
    /// link-layer address, MTU 1500 and prefix fd00:1::/64 (L and A, 86400/14400 s).
    const RA: [u8; 64] = [
        0x86, 0x00, 0x31, 0x55, 0x40, 0x00, 0x07,
        0x08, // type 134 | code | checksum | hop limit 64 | flags | lifetime 1800
        0, 0, 0, 0, 0, 0, 0, 0, // reachable time, retrans timer
        0x01, 0x01, 0x7e, 0x22, 0xd1, 0x9b, 0x48, 0x60, // source link-layer address
        0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, // MTU 1500
        0x03, 0x04, 0x40, 0xc0, 0x00, 0x01, 0x51,
        0x80, // prefix information: /64, L A, valid 86400
        0x00, 0x00, 0x38, 0x40, 0x00, 0x00, 0x00, 0x00, // preferred 14400, reserved
        0xfd, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // fd00:1::
    ];

    #[test]
    fn router_advertisement_options() {
        let ra = RouterAdvert::parse(&RA).unwrap();
        assert_eq!((ra.cur_hop_limit, ra.router_lifetime), (64, 1800));
        let mut seen = Vec::new();
        walk_options(&RA, options_start(134).unwrap(), |o| {
            seen.push((o.kind, o.span()))
        })
        .unwrap();
        assert_eq!(seen, [(1, 16..24), (5, 24..32), (3, 32..64)]);
        let mut v = Vec::new();
        option_fields(&RA, 16, &mut v);
        let text: Vec<&str> = v.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(
            text,
            [
                "source link-layer address (type 1, 8 bytes): 7e:22:d1:9b:48:60",
                "MTU (type 5, 8 bytes): 1500",
                "prefix information (type 3, 32 bytes): fd00:1::/64 on-link autonomous, valid 86400 s, preferred 14400 s",
            ]
        );
        assert_eq!(
            first_link_addr(&RA, 16),
            Some(Mac([0x7e, 0x22, 0xd1, 0x9b, 0x48, 0x60]))
        );
    }

    #[test]
    fn zero_length_and_cut_options_are_errors() {
        let mut zero = RA;
        zero[17] = 0;
        assert!(walk_options(&zero, 16, |_| {}).is_err());
        for n in 16..RA.len() {
            let mut count = 0;
            let r = walk_options(&RA[..n], 16, |_| count += 1);
            assert!(
                r.is_err() || matches!(n, 16 | 24 | 32),
                "prefix of {n} bytes"
            );
            assert!(count <= 3);
        }
    }

    #[test]
    fn neighbor_advertisement_flags() {
        let f = NaFlags::from_word(0xe000_0000);
        assert_eq!(f.describe(), "rtr, sol, ovr");
        assert_eq!(NaFlags::from_word(0x4000_0000).describe(), "sol");
    }
}
