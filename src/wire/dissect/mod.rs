//! Walk a captured frame from the outermost header inwards: link → network → transport.
//!
//! [`dissect`] never fails and never panics. It decodes as many layers as the bytes
//! allow and, when it cannot go on, records why in [`Dissection::stopped`] (truncated
//! capture, a protocol netlab does not decode, a later IP fragment, a malformed header).
//!
//! A [`Layer`] knows its protocol (and so its OSI and TCP/IP placement, see
//! `crate::layers`), the byte range of its header inside the frame, and a typed
//! [`LayerRepr`]. Field lists and summaries are computed on demand
//! ([`Layer::fields`], [`Layer::summary`]): the one-line view of a million packets needs
//! neither, and building them for every packet would triple its cost.
//!
//! Application decoders (HTTP, WebSocket, DNS over TCP) come later and work on
//! reassembled TCP byte streams (`wire::dissect::app`); their layers travel beside the dissection,
//! not inside it, and [`Dissection::payload`] is where their bytes start in this frame.

pub mod app;
pub mod filter;
pub mod flow;
mod fragment;
pub mod partial;
pub use fragment::{reassembled, FragmentAt};

use crate::layers::Protocol;
use crate::wire::application::dns;
use crate::wire::checksum::Pseudo;
use crate::wire::internet::ipv4::{self, IpProtocol};
use crate::wire::internet::{icmpv4, icmpv6, ipv6};
use crate::wire::link::ethernet::{self, vlan, EtherType};
use crate::wire::link::{arp, sll};
use crate::wire::transport::{tcp, udp};
use crate::wire::{Error, Field};
use core::net::IpAddr;
use serde::Serialize;
use std::fmt;
use std::ops::Range;

/// How the capture's link layer frames each packet (pcap's LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    /// BSD loopback: 4-byte address family (LINKTYPE_NULL 0, LINKTYPE_LOOP 108).
    Null,
    /// Ethernet II (LINKTYPE_ETHERNET 1). Linux `lo` looks like this too.
    Ethernet,
    /// Raw IP, version from the first nibble (LINKTYPE_RAW 101; DLT 12 and 14).
    Raw,
    /// Linux cooked capture v1 (LINKTYPE_LINUX_SLL 113).
    LinuxSll,
    /// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2 276).
    LinuxSll2,
    /// Raw IPv4 (LINKTYPE_IPV4 228).
    Ipv4,
    /// Raw IPv6 (LINKTYPE_IPV6 229).
    Ipv6,
    Unknown(u32),
}

impl LinkType {
    pub fn from_linktype(v: u32) -> LinkType {
        match v {
            0 | 108 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            o => LinkType::Unknown(o),
        }
    }

    pub fn to_linktype(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::Unknown(o) => o,
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            LinkType::Null => "BSD loopback (NULL)",
            LinkType::Ethernet => "Ethernet",
            LinkType::Raw => "raw IP",
            LinkType::LinuxSll => "Linux cooked (SLL)",
            LinkType::LinuxSll2 => "Linux cooked v2 (SLL2)",
            LinkType::Ipv4 => "raw IPv4",
            LinkType::Ipv6 => "raw IPv6",
            LinkType::Unknown(_) => "unknown",
        };
        write!(f, "{name} ({})", self.to_linktype())
    }
}

/// What one layer said, typed. Not `Copy`: an application layer (DNS) owns its names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayerRepr {
    Ethernet(ethernet::Repr),
    Vlan(vlan::Repr),
    Sll(sll::Repr),
    Null(sll::null::Repr),
    Arp(arp::Repr),
    Ipv4(ipv4::Repr),
    Ipv6(ipv6::Repr),
    Ipv6Ext(ipv6::ExtRepr),
    Icmpv4(icmpv4::Repr),
    Icmpv6(icmpv6::Repr),
    Tcp(tcp::Repr),
    Udp(udp::Repr),
    Dns(Box<dns::Repr>),
    /// A header the capture holds only part of: the fields present, the first missing.
    Partial(partial::Partial),
}

/// One decoded header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub protocol: Protocol,
    /// Absolute byte offsets of this header inside the frame.
    pub header: Range<usize>,
    /// True for headers quoted inside an ICMP error message (not this packet's own).
    pub quoted: bool,
    pub repr: LayerRepr,
}

impl Layer {
    /// The header's name as a person says it.
    pub fn name(&self) -> &'static str {
        match &self.repr {
            LayerRepr::Ethernet(_) => "Ethernet II",
            LayerRepr::Vlan(_) => "802.1Q VLAN tag",
            LayerRepr::Sll(r) if r.version == sll::Version::Sll2 => "Linux cooked capture v2",
            LayerRepr::Sll(_) => "Linux cooked capture",
            LayerRepr::Null(_) => "BSD loopback header",
            LayerRepr::Ipv6Ext(e) => e.kind.name(),
            _ => self.protocol.name(),
        }
    }

    /// One line: the `Repr`'s Display.
    pub fn summary(&self) -> String {
        match &self.repr {
            LayerRepr::Ethernet(r) => r.to_string(),
            LayerRepr::Vlan(r) => r.to_string(),
            LayerRepr::Sll(r) => r.to_string(),
            LayerRepr::Null(r) => r.to_string(),
            LayerRepr::Arp(r) => r.to_string(),
            LayerRepr::Ipv4(r) => r.to_string(),
            LayerRepr::Ipv6(r) => r.to_string(),
            LayerRepr::Ipv6Ext(r) => r.to_string(),
            LayerRepr::Icmpv4(r) => r.to_string(),
            LayerRepr::Icmpv6(r) => r.to_string(),
            LayerRepr::Tcp(r) => r.to_string(),
            LayerRepr::Udp(r) => r.to_string(),
            LayerRepr::Dns(r) => r.to_string(),
            LayerRepr::Partial(r) => format!("{} header {}", self.protocol.name(), r.brief()),
        }
    }

    /// Every field, with spans made absolute in `frame`.
    pub fn fields(&self, frame: &[u8]) -> Vec<Field> {
        let header = frame.get(self.header.clone()).unwrap_or(&[]);
        let mut v = match &self.repr {
            LayerRepr::Ethernet(r) => r.fields(),
            LayerRepr::Vlan(r) => r.fields(),
            LayerRepr::Sll(r) => r.fields(),
            LayerRepr::Null(r) => r.fields(),
            LayerRepr::Arp(r) => r.fields(),
            LayerRepr::Ipv4(r) => r.fields(header),
            LayerRepr::Ipv6(r) => r.fields(),
            LayerRepr::Ipv6Ext(r) => r.fields(header),
            LayerRepr::Icmpv4(r) => r.fields(),
            LayerRepr::Icmpv6(r) => r.fields(header),
            LayerRepr::Tcp(r) => r.fields(header),
            LayerRepr::Udp(r) => r.fields(),
            LayerRepr::Dns(r) => r.fields(),
            LayerRepr::Partial(r) => r.fields(header),
        };
        for f in &mut v {
            f.span = f.span.start + self.header.start..f.span.end + self.header.start;
        }
        v
    }
}

/// The decoded frame: layers outermost first, then what no layer claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dissection {
    pub link: LinkType,
    pub captured_len: usize,
    pub layers: Vec<Layer>,
    /// The innermost layer's data (application bytes for TCP and UDP).
    pub payload: Range<usize>,
    /// Bytes after the IP packet's end: Ethernet padding to the 60-byte minimum, trailers.
    pub trailer: Range<usize>,
    /// Why decoding stopped before the payload, if it did.
    pub stopped: Option<Stopped>,
}

/// Why the walk stopped early. Not a failure: the layers before it are good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stopped {
    pub reason: String,
    pub error: Option<Error>,
}

impl Dissection {
    pub fn find(&self, p: Protocol) -> Option<&Layer> {
        self.layers.iter().find(|l| l.protocol == p && !l.quoted)
    }

    pub fn has(&self, p: Protocol) -> bool {
        self.find(p).is_some()
    }

    /// The packet's own IP source and destination (not a quoted packet's).
    pub fn ip_addrs(&self) -> Option<(IpAddr, IpAddr)> {
        self.layers
            .iter()
            .filter(|l| !l.quoted)
            .find_map(|l| match &l.repr {
                LayerRepr::Ipv4(r) => Some((IpAddr::V4(r.src), IpAddr::V4(r.dst))),
                LayerRepr::Ipv6(r) => Some((IpAddr::V6(r.src), IpAddr::V6(r.dst))),
                LayerRepr::Arp(r) => Some((IpAddr::V4(r.sender_ip), IpAddr::V4(r.target_ip))),
                _ => None,
            })
    }

    /// Source and destination ports of the packet's own TCP or UDP header.
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.layers
            .iter()
            .filter(|l| !l.quoted)
            .find_map(|l| match &l.repr {
                LayerRepr::Tcp(r) => Some((r.src_port, r.dst_port)),
                LayerRepr::Udp(r) => Some((r.src_port, r.dst_port)),
                _ => None,
            })
    }

    pub fn tcp(&self) -> Option<&tcp::Repr> {
        self.layers
            .iter()
            .filter(|l| !l.quoted)
            .find_map(|l| match &l.repr {
                LayerRepr::Tcp(r) => Some(r),
                _ => None,
            })
    }

    /// The innermost protocol that is not quoted.
    pub fn top(&self) -> Option<&Layer> {
        self.layers.iter().rev().find(|l| !l.quoted)
    }

    fn stop(&mut self, reason: impl Into<String>, error: Option<Error>) {
        self.stopped = Some(Stopped {
            reason: reason.into(),
            error,
        });
    }
}

/// Decode one frame captured on a link of type `link`. Never fails, never panics.
pub fn dissect(link: LinkType, frame: &[u8]) -> Dissection {
    let mut d = Dissection {
        link,
        captured_len: frame.len(),
        layers: Vec::with_capacity(4),
        payload: frame.len()..frame.len(),
        trailer: frame.len()..frame.len(),
        stopped: None,
    };
    let mut w = Walker {
        frame,
        d: &mut d,
        quoted: false,
    };
    match link {
        LinkType::Ethernet => w.ethernet(0),
        LinkType::LinuxSll => w.sll(0, sll::Version::Sll),
        LinkType::LinuxSll2 => w.sll(0, sll::Version::Sll2),
        LinkType::Null => w.null(0),
        LinkType::Raw => w.raw_ip(0, frame.len(), 0),
        LinkType::Ipv4 => w.ipv4(0, frame.len()),
        LinkType::Ipv6 => w.ipv6(0, frame.len()),
        LinkType::Unknown(t) => {
            d.payload = 0..frame.len();
            d.stop(format!("link type {t} is not one netlab decodes"), None);
        }
    }
    d
}

struct Walker<'a, 'd> {
    frame: &'a [u8],
    d: &'d mut Dissection,
    quoted: bool,
}

/// Where a transport header sits and what its checksum needs.
#[derive(Clone, Copy)]
struct IpCtx {
    pseudo: Pseudo,
    /// End of the IP packet inside the captured frame.
    end: usize,
    /// Where the IP header says the packet ends (past `end` when the capture cut it
    /// short at its snap length): a TCP segment's length comes from here.
    claimed_end: usize,
    /// Whether the whole IP payload was captured.
    complete: bool,
    /// The packet is the first fragment of a larger datagram (its checksum covers bytes
    /// in later fragments).
    fragmented: bool,
    v6: Option<(core::net::Ipv6Addr, core::net::Ipv6Addr)>,
}

impl IpCtx {
    /// A first fragment's checksum cannot be checked here: say why (it was split, not
    /// cut short by the capture).
    fn checked(&self, c: crate::wire::checksum::Checked) -> crate::wire::checksum::Checked {
        use crate::wire::checksum::Checked;
        if self.fragmented && !self.complete && c == Checked::Unverifiable {
            Checked::Fragmented
        } else {
            c
        }
    }
}

impl<'a> Walker<'a, '_> {
    fn layer(&mut self, protocol: Protocol, header: Range<usize>, repr: LayerRepr) {
        self.d.layers.push(Layer {
            protocol,
            header,
            quoted: self.quoted,
            repr,
        });
    }

    fn rest(&mut self, at: usize, end: usize) {
        if !self.quoted {
            self.d.payload = at.min(end)..end;
        }
    }

    fn fail(&mut self, at: usize, end: usize, what: &str, e: Error) {
        self.rest(at, end);
        let prefix = if self.quoted { "quoted packet: " } else { "" };
        self.d.stop(format!("{prefix}{what}: {e}"), Some(e));
    }

    /// `protocol`'s header at `at` could not be decoded. When it was cut short, the
    /// fields that are there still make a layer ([`partial`]) and the reason names the
    /// first field missing.
    fn cut(&mut self, at: usize, end: usize, protocol: Protocol, what: &str, e: Error) {
        let (&Error::Truncated { needed, got, .. }, Some(table)) = (&e, partial::table(protocol))
        else {
            return self.fail(at, end, what, e);
        };
        if got == 0 {
            return self.fail(at, end, what, e);
        }
        let p = partial::Partial::new(table, got, needed);
        let prefix = if self.quoted { "quoted packet: " } else { "" };
        let reason = format!("{prefix}{what} {}", p.describe());
        let stop_at = (at + got).min(end);
        self.layer(protocol, at..stop_at, LayerRepr::Partial(p));
        self.rest(stop_at, end);
        self.d.stop(reason, Some(e));
    }

    fn ethernet(&mut self, at: usize) {
        let f = match ethernet::Frame::new_checked(&self.frame[at..]) {
            Ok(f) => f,
            Err(e) => {
                return self.cut(
                    at,
                    self.frame.len(),
                    Protocol::Ethernet,
                    "Ethernet header",
                    e,
                )
            }
        };
        let r = ethernet::Repr::parse(&f);
        self.layer(
            Protocol::Ethernet,
            at..at + ethernet::HEADER_LEN,
            LayerRepr::Ethernet(r),
        );
        self.ethertype(at + ethernet::HEADER_LEN, r.ethertype);
    }

    fn ethertype(&mut self, at: usize, t: EtherType) {
        let end = self.frame.len();
        match t {
            EtherType::Ipv4 => self.ipv4(at, end),
            EtherType::Ipv6 => self.ipv6(at, end),
            EtherType::Arp => self.arp(at),
            EtherType::Vlan => self.vlan(at),
            EtherType::Unknown(v) => {
                self.rest(at, end);
                self.d.stop(
                    format!("EtherType 0x{v:04x} is not one netlab decodes"),
                    None,
                );
            }
        }
    }

    fn vlan(&mut self, at: usize) {
        let t = match vlan::Tag::new_checked(&self.frame[at..]) {
            Ok(t) => t,
            Err(e) => return self.fail(at, self.frame.len(), "802.1Q tag", e),
        };
        let r = vlan::Repr::parse(&t);
        self.layer(
            Protocol::Vlan,
            at..at + vlan::HEADER_LEN,
            LayerRepr::Vlan(r),
        );
        if r.ethertype == EtherType::Vlan {
            // Q-in-Q: a second tag. Walk it too (bounded: each tag consumes 4 bytes).
            return self.vlan(at + vlan::HEADER_LEN);
        }
        self.ethertype(at + vlan::HEADER_LEN, r.ethertype);
    }

    fn sll(&mut self, at: usize, v: sll::Version) {
        let h = match sll::Header::new_checked(&self.frame[at..], v) {
            Ok(h) => h,
            Err(e) => return self.fail(at, self.frame.len(), "Linux cooked header", e),
        };
        let r = sll::Repr::parse(&h);
        let len = h.header_len();
        self.layer(Protocol::LinuxSll, at..at + len, LayerRepr::Sll(r));
        self.ethertype(at + len, r.protocol);
    }

    fn null(&mut self, at: usize) {
        let r = match sll::null::Repr::parse(&self.frame[at..]) {
            Ok(r) => r,
            Err(e) => return self.fail(at, self.frame.len(), "BSD loopback header", e),
        };
        // layers.rs has no variant for the BSD loopback pseudo-header; it plays the
        // link layer's part, so it is placed with Ethernet (data link, frame).
        self.layer(
            Protocol::Ethernet,
            at..at + sll::null::HEADER_LEN,
            LayerRepr::Null(r),
        );
        self.ethertype(at + sll::null::HEADER_LEN, r.ethertype());
    }

    fn raw_ip(&mut self, at: usize, end: usize, _depth: u8) {
        match self.frame.get(at).map(|b| b >> 4) {
            Some(4) => self.ipv4(at, end),
            Some(6) => self.ipv6(at, end),
            _ => {
                self.rest(at, end);
                self.d
                    .stop("raw IP frame whose version nibble is neither 4 nor 6", None);
            }
        }
    }

    fn arp(&mut self, at: usize) {
        let end = self.frame.len();
        let p = match arp::Packet::new_checked(&self.frame[at..]) {
            Ok(p) => p,
            Err(e) => return self.cut(at, end, Protocol::Arp, "ARP packet", e),
        };
        self.layer(
            Protocol::Arp,
            at..at + arp::HEADER_LEN,
            LayerRepr::Arp(arp::Repr::parse(&p)),
        );
        self.rest(at + arp::HEADER_LEN, at + arp::HEADER_LEN);
        // Ethernet pads short frames to 60 bytes: ARP's 28 bytes leave 18 of padding.
        self.d.trailer = (at + arp::HEADER_LEN).min(end)..end;
    }

    fn ipv4(&mut self, at: usize, end: usize) {
        let buf = &self.frame[at..end];
        let p = match ipv4::Packet::new_header_checked(buf) {
            Ok(p) => p,
            Err(e) => return self.cut(at, end, Protocol::Ipv4, "IPv4 header", e),
        };
        let r = ipv4::Repr::parse(&p);
        let hl = r.header_len;
        self.layer(Protocol::Ipv4, at..at + hl, LayerRepr::Ipv4(r));
        let claimed_end = at + usize::from(r.total_length);
        let ip_end = claimed_end.min(end);
        if !self.quoted && claimed_end < end {
            self.d.trailer = claimed_end..end;
        }
        let complete = claimed_end <= end;
        if r.frag_offset != 0 {
            self.rest(at + hl, ip_end);
            self.d.stop(
                format!(
                    "IPv4 fragment at offset {}: the {} header is in the first fragment",
                    r.frag_offset,
                    r.protocol.name()
                ),
                None,
            );
            return;
        }
        let ctx = IpCtx {
            pseudo: Pseudo::V4(r.src.octets(), r.dst.octets()),
            end: ip_end,
            claimed_end,
            complete: complete && !r.more_frags,
            fragmented: r.more_frags,
            v6: None,
        };
        self.transport(at + hl, r.protocol, ctx);
    }

    fn ipv6(&mut self, at: usize, end: usize) {
        let buf = &self.frame[at..end];
        let p = match ipv6::Packet::new_header_checked(buf) {
            Ok(p) => p,
            Err(e) => return self.cut(at, end, Protocol::Ipv6, "IPv6 header", e),
        };
        let r = ipv6::Repr::parse(&p);
        self.layer(
            Protocol::Ipv6,
            at..at + ipv6::HEADER_LEN,
            LayerRepr::Ipv6(r),
        );
        let claimed_end = at + ipv6::HEADER_LEN + usize::from(r.payload_len);
        let ip_end = claimed_end.min(end);
        if !self.quoted && claimed_end < end {
            self.d.trailer = claimed_end..end;
        }
        let mut ctx = IpCtx {
            pseudo: Pseudo::V6(r.src.octets(), r.dst.octets()),
            end: ip_end,
            claimed_end,
            complete: claimed_end <= end,
            fragmented: false,
            v6: Some((r.src, r.dst)),
        };
        // Walk the extension headers. Each consumes at least 8 bytes, so the loop ends.
        let mut next = r.next_header;
        let mut pos = at + ipv6::HEADER_LEN;
        while ipv6::is_extension(next) {
            let e = match ipv6::ExtRepr::parse(next, &self.frame[pos..ip_end]) {
                Ok(e) => e,
                Err(err) => return self.fail(pos, ip_end, next.name(), err),
            };
            self.layer(Protocol::Ipv6, pos..pos + e.len, LayerRepr::Ipv6Ext(e));
            pos += e.len;
            next = e.next_header;
            if let Some(fr) = e.fragment {
                if fr.more {
                    ctx.complete = false;
                    ctx.fragmented = true;
                }
                if fr.offset != 0 {
                    self.rest(pos, ip_end);
                    self.d.stop(
                        format!(
                            "IPv6 fragment at offset {}: the {} header is in the first fragment",
                            fr.offset,
                            next.name()
                        ),
                        None,
                    );
                    return;
                }
            }
        }
        self.transport(pos, next, ctx);
    }

    /// DNS (port 53) and multicast DNS (5353): one message per datagram, so it is
    /// decoded per packet. (Over TCP it is decoded from the reassembled stream, in
    /// `wire::dissect::app`.) A message too short for its header is left as plain data; a
    /// malformed section keeps the layer and says why decoding stopped.
    fn dns_over_udp(&mut self, at: usize, end: usize, src: u16, dst: u16) {
        let ports = [dns::PORT, dns::MDNS_PORT];
        if !ports.contains(&src) && !ports.contains(&dst) || at >= end {
            return;
        }
        let Ok(r) = dns::Repr::parse_partial(&self.frame[at..end]) else {
            return;
        };
        let problem = r.problem.clone();
        self.layer(Protocol::Dns, at..end, LayerRepr::Dns(Box::new(r)));
        if let Some(e) = problem {
            self.d.stop(format!("DNS message: {e}"), Some(e));
        }
    }

    fn transport(&mut self, at: usize, proto: IpProtocol, ctx: IpCtx) {
        let buf = &self.frame[at.min(ctx.end)..ctx.end];
        match proto {
            IpProtocol::Tcp => self.tcp(at, buf, ctx),
            IpProtocol::Udp => self.udp(at, buf, ctx),
            IpProtocol::Icmp => self.icmpv4(at, buf, ctx),
            IpProtocol::Icmpv6 => self.icmpv6(at, buf, ctx),
            IpProtocol::Ipv6NoNxt => self.rest(at, ctx.end),
            other => {
                self.rest(at, ctx.end);
                self.d.stop(
                    format!("IP protocol {other} is not one netlab decodes"),
                    None,
                );
            }
        }
    }

    /// A TCP header (RFC 9293 §3.1), its checksum judged with what the IP layer knows.
    fn tcp(&mut self, at: usize, buf: &'a [u8], ctx: IpCtx) {
        let s = match tcp::Segment::new_checked(buf) {
            Ok(s) => s,
            Err(e) => return self.cut(at, ctx.end, Protocol::Tcp, "TCP header", e),
        };
        let complete = ctx.complete && !self.quoted;
        let wire_len = ctx.claimed_end.saturating_sub(at);
        let mut r = tcp::Repr::parse(&s, ctx.pseudo, complete, wire_len);
        r.checksum_check = ctx.checked(r.checksum_check);
        self.layer(Protocol::Tcp, at..at + r.header_len, LayerRepr::Tcp(r));
        self.rest(at + r.header_len, ctx.end);
    }

    /// A UDP header (RFC 768), then DNS when a port says so.
    fn udp(&mut self, at: usize, buf: &'a [u8], ctx: IpCtx) {
        let d = match udp::Datagram::new_header_checked(buf) {
            Ok(d) => d,
            Err(e) => return self.cut(at, ctx.end, Protocol::Udp, "UDP header", e),
        };
        let mut r = udp::Repr::parse(&d, ctx.pseudo);
        if !ctx.complete && r.checksum_check != crate::wire::checksum::Checked::NotComputed {
            r.checksum_check = crate::wire::checksum::Checked::Unverifiable;
        }
        r.checksum_check = ctx.checked(r.checksum_check);
        self.layer(Protocol::Udp, at..at + udp::HEADER_LEN, LayerRepr::Udp(r));
        let udp_end = (at + usize::from(r.length)).min(ctx.end);
        self.rest(at + udp::HEADER_LEN, udp_end);
        if !self.quoted {
            self.dns_over_udp(at + udp::HEADER_LEN, udp_end, r.src_port, r.dst_port);
        }
    }

    /// An ICMP message (RFC 792); an error quotes the IPv4 packet that caused it.
    fn icmpv4(&mut self, at: usize, buf: &'a [u8], ctx: IpCtx) {
        let m = match icmpv4::Message::new_checked(buf) {
            Ok(m) => m,
            Err(e) => return self.cut(at, ctx.end, Protocol::Icmpv4, "ICMP header", e),
        };
        let mut r = icmpv4::Repr::parse(&m, ctx.complete && !self.quoted);
        r.checksum_check = ctx.checked(r.checksum_check);
        self.layer(
            Protocol::Icmpv4,
            at..at + icmpv4::HEADER_LEN,
            LayerRepr::Icmpv4(r),
        );
        let data = at + icmpv4::HEADER_LEN;
        self.rest(data, ctx.end);
        if icmpv4::is_error(r.msg_type) && !self.quoted && data < ctx.end {
            self.quoted = true;
            self.ipv4(data, ctx.end);
            self.quoted = false;
        }
    }

    /// An ICMPv6 message (RFC 4443); its checksum covers the IPv6 pseudo-header, and an
    /// error quotes the packet that caused it.
    fn icmpv6(&mut self, at: usize, buf: &'a [u8], ctx: IpCtx) {
        let m = match icmpv6::Message::new_checked(buf) {
            Ok(m) => m,
            Err(e) => return self.cut(at, ctx.end, Protocol::Icmpv6, "ICMPv6 header", e),
        };
        let (src, dst) = ctx.v6.unwrap_or((
            core::net::Ipv6Addr::UNSPECIFIED,
            core::net::Ipv6Addr::UNSPECIFIED,
        ));
        let mut r = icmpv6::Repr::parse(
            &m,
            src,
            dst,
            ctx.complete && !self.quoted && ctx.v6.is_some(),
        );
        r.checksum_check = ctx.checked(r.checksum_check);
        // Neighbor discovery and MLDv2 reports are header to their last byte (options,
        // records); other messages carry data after the body word.
        let data = if icmpv6::is_whole_message(r.msg_type) {
            ctx.end
        } else {
            at + icmpv6::HEADER_LEN
        };
        self.layer(Protocol::Icmpv6, at..data, LayerRepr::Icmpv6(r));
        self.rest(data, ctx.end);
        if icmpv6::is_error(r.msg_type) && !self.quoted && data < ctx.end {
            self.quoted = true;
            self.ipv6(data, ctx.end);
            self.quoted = false;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::checksum::Checked;

    /// STYLE.md's loopback UDP "hi" frame: all-zero MACs (Linux `lo`), IPv4 id 0x1234,
    /// DF, TTL 64, UDP 40000 → 9000 carrying "hi". Checksums verified independently.
    pub const LO_FRAME_UDP_HI: [u8; 44] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // destination MAC
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // source MAC
        0x08, 0x00, // EtherType IPv4
        0x45, 0x00, 0x00, 0x1e, // version 4, IHL 5 | DSCP/ECN | total length 30
        0x12, 0x34, 0x40, 0x00, // identification | DF, offset 0
        0x40, 0x11, 0x2a, 0x99, // TTL 64 | UDP | header checksum
        0x7f, 0x00, 0x00, 0x01, // source 127.0.0.1
        0x7f, 0x00, 0x00, 0x01, // destination 127.0.0.1
        0x9c, 0x40, 0x23, 0x28, 0x00, 0x0a, 0xda, 0x05, // UDP header
        0x68, 0x69, // "hi"
    ];

    /// A port-unreachable error for that datagram, as raw IPv4 (built by hand: the
    /// kernel's reply when nothing listens on 9000).
    pub fn port_unreachable() -> Vec<u8> {
        let quoted = &LO_FRAME_UDP_HI[14..];
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(quoted);
        let c = crate::wire::checksum::checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let total = (20 + icmp.len()) as u16;
        let mut ip = vec![
            0x45, 0xc0, 0, 0, 0xab, 0xcd, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        let c = crate::wire::checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn dissect_loopback_udp() {
        let d = dissect(LinkType::Ethernet, &LO_FRAME_UDP_HI);
        let protos: Vec<Protocol> = d.layers.iter().map(|l| l.protocol).collect();
        assert_eq!(protos, [Protocol::Ethernet, Protocol::Ipv4, Protocol::Udp]);
        assert_eq!(d.layers[1].header, 14..34);
        assert_eq!(d.layers[2].header, 34..42);
        assert_eq!(d.payload, 42..44);
        assert!(d.stopped.is_none());
        assert_eq!(d.ports(), Some((40000, 9000)));
        let LayerRepr::Udp(u) = d.layers[2].repr else {
            panic!("UDP expected")
        };
        assert_eq!(u.checksum_check, Checked::Correct);
        let f = d.layers[1].fields(&LO_FRAME_UDP_HI);
        let ttl = f.iter().find(|f| f.name == "ttl").unwrap();
        assert_eq!((ttl.value.as_str(), ttl.span.clone()), ("64", 22..23));
    }

    #[test]
    fn icmp_error_quotes_the_offending_headers() {
        let p = port_unreachable();
        let d = dissect(LinkType::Raw, &p);
        let shape: Vec<(Protocol, bool)> =
            d.layers.iter().map(|l| (l.protocol, l.quoted)).collect();
        assert_eq!(
            shape,
            [
                (Protocol::Ipv4, false),
                (Protocol::Icmpv4, false),
                (Protocol::Ipv4, true),
                (Protocol::Udp, true)
            ]
        );
        assert_eq!(d.ports(), None, "the quoted ports are not this packet's");
        assert!(d.layers[3].summary().contains("40000 → 9000"));
        assert!(d.stopped.is_none(), "{:?}", d.stopped);
    }

    #[test]
    fn sll_and_null_and_unknown_links() {
        let mut sll = vec![0, 4, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0];
        sll.extend_from_slice(&LO_FRAME_UDP_HI[14..]);
        let d = dissect(LinkType::LinuxSll, &sll);
        assert_eq!(d.layers.len(), 3);
        assert_eq!(d.layers[0].protocol, Protocol::LinuxSll);
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&LO_FRAME_UDP_HI[14..]);
        assert_eq!(dissect(LinkType::Null, &null).layers.len(), 3);
        let d = dissect(LinkType::Unknown(147), &null);
        assert!(d.layers.is_empty() && d.stopped.is_some());
    }

    #[test]
    fn ethernet_padding_is_a_trailer() {
        let mut f = LO_FRAME_UDP_HI.to_vec();
        f.resize(60, 0);
        let d = dissect(LinkType::Ethernet, &f);
        assert_eq!(d.payload, 42..44);
        assert_eq!(d.trailer, 44..60);
    }

    #[test]
    fn snap_length_cut_stops_or_marks_unverifiable() {
        let d = dissect(LinkType::Ethernet, &LO_FRAME_UDP_HI[..43]);
        let LayerRepr::Udp(u) = d.layers[2].repr else {
            panic!("UDP expected")
        };
        assert_eq!(u.checksum_check, Checked::Unverifiable);
        // 6 of UDP's 8 bytes: the ports and the length are there, the checksum is not.
        let d = dissect(LinkType::Ethernet, &LO_FRAME_UDP_HI[..40]);
        assert_eq!(d.layers.len(), 3);
        let LayerRepr::Partial(p) = &d.layers[2].repr else {
            panic!("a partial UDP header expected")
        };
        assert_eq!(p.fields_present, ["src_port", "dst_port", "length"]);
        assert_eq!(p.first_missing, Some("checksum"));
        let reason = &d.stopped.as_ref().unwrap().reason;
        assert!(
            reason.starts_with("UDP header cut short: 6 of 8 bytes")
                && reason.ends_with("the first field missing is checksum"),
            "{reason}"
        );
        let f = d.layers[2].fields(&LO_FRAME_UDP_HI[..40]);
        assert_eq!(
            (f[0].value.as_str(), f[0].span.clone()),
            ("0x9c40 = 40000", 34..36)
        );
        assert_eq!(d.payload, 40..40);
    }

    #[test]
    fn every_prefix_of_every_fixture_dissects_without_panic() {
        let fixtures: Vec<(LinkType, Vec<u8>)> = vec![
            (LinkType::Ethernet, LO_FRAME_UDP_HI.to_vec()),
            (LinkType::Raw, port_unreachable()),
        ];
        for (link, bytes) in fixtures {
            for n in 0..=bytes.len() {
                let d = dissect(link, &bytes[..n]);
                for l in &d.layers {
                    let _ = (l.summary(), l.fields(&bytes[..n]));
                    assert!(l.header.end <= n, "layer beyond the captured bytes");
                }
                assert!(d.payload.end <= n && d.trailer.end <= n, "prefix {n}");
            }
        }
    }
}
