//! The layer models as types: OSI (seven layers), TCP/IP (RFC 1122's four) and the
//! five-layer textbook hybrid, and where each protocol netlab knows sits in them.
//!
//! There is no single "correct" layer model, and textbooks disagree:
//!
//! - **OSI** (ISO/IEC 7498-1) is a *reference model* with seven layers. It was designed
//!   before most of today's protocols and they do not map onto it cleanly: real stacks
//!   blur layers 5, 6 and 7 into "the application".
//! - **TCP/IP** is the model the Internet's own standards use. RFC 1122 §1.1.3 names four
//!   layers: link, internet, transport and application. It says nothing about the
//!   physical medium, which the link layer hides.
//! - **The five-layer hybrid** (physical, link, network, transport, application) is what
//!   many textbooks (Kurose & Ross, Tanenbaum) teach: TCP/IP's layers with OSI's physical
//!   layer split out below the link layer. It is not a standard of anyone's.
//!
//! netlab shows all three side by side (`netlab osi`) and notes, per protocol, where the
//! placement is contested. Every other part of netlab (capture views, docs, `explain`)
//! reads placement from here, so there is exactly one answer to "which layer is X?".

use serde::Serialize;
use std::fmt;

/// The seven layers of the OSI reference model (ISO/IEC 7498-1), numbered from the wire up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OsiLayer {
    Physical = 1,
    DataLink = 2,
    Network = 3,
    Transport = 4,
    Session = 5,
    Presentation = 6,
    Application = 7,
}

impl OsiLayer {
    /// All seven, from layer 1 (physical) to layer 7 (application).
    pub const ALL: [OsiLayer; 7] = [
        OsiLayer::Physical,
        OsiLayer::DataLink,
        OsiLayer::Network,
        OsiLayer::Transport,
        OsiLayer::Session,
        OsiLayer::Presentation,
        OsiLayer::Application,
    ];

    /// The layer's number, 1 to 7.
    pub const fn number(self) -> u8 {
        self as u8
    }

    pub const fn name(self) -> &'static str {
        match self {
            OsiLayer::Physical => "Physical",
            OsiLayer::DataLink => "Data link",
            OsiLayer::Network => "Network",
            OsiLayer::Transport => "Transport",
            OsiLayer::Session => "Session",
            OsiLayer::Presentation => "Presentation",
            OsiLayer::Application => "Application",
        }
    }

    /// What this layer is responsible for, in one line.
    pub const fn role(self) -> &'static str {
        match self {
            OsiLayer::Physical => "bits as signals on a medium: voltages, light, radio",
            OsiLayer::DataLink => "frames between neighbours on one link; MAC addresses",
            OsiLayer::Network => "packets across many links, end to end; IP addresses, routing",
            OsiLayer::Transport => "between processes: ports, reliability or not, ordering",
            OsiLayer::Session => "dialogues between applications: opening, checkpoints, closing",
            OsiLayer::Presentation => "representation: encoding, compression, encryption",
            OsiLayer::Application => "what the program means: requests, messages, events",
        }
    }

    /// The usual name of this layer's unit of data (its PDU).
    pub const fn pdu(self) -> &'static str {
        match self {
            OsiLayer::Physical => "bit",
            OsiLayer::DataLink => "frame",
            OsiLayer::Network => "packet",
            OsiLayer::Transport => "segment (TCP) / datagram (UDP)",
            OsiLayer::Session | OsiLayer::Presentation | OsiLayer::Application => "data / message",
        }
    }

    /// Where this OSI layer falls in RFC 1122's four-layer model.
    pub const fn tcpip(self) -> TcpIpLayer {
        match self {
            OsiLayer::Physical | OsiLayer::DataLink => TcpIpLayer::Link,
            OsiLayer::Network => TcpIpLayer::Internet,
            OsiLayer::Transport => TcpIpLayer::Transport,
            OsiLayer::Session | OsiLayer::Presentation | OsiLayer::Application => {
                TcpIpLayer::Application
            }
        }
    }

    /// Where this OSI layer falls in the five-layer textbook hybrid.
    pub const fn hybrid(self) -> HybridLayer {
        match self {
            OsiLayer::Physical => HybridLayer::Physical,
            OsiLayer::DataLink => HybridLayer::Link,
            OsiLayer::Network => HybridLayer::Network,
            OsiLayer::Transport => HybridLayer::Transport,
            OsiLayer::Session | OsiLayer::Presentation | OsiLayer::Application => {
                HybridLayer::Application
            }
        }
    }
}

impl fmt::Display for OsiLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{} {}", self.number(), self.name())
    }
}

/// The four layers of the Internet architecture as RFC 1122 §1.1.3 names them.
///
/// Some books call the link layer "network access" or "network interface"; RFC 1122
/// says "link".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpIpLayer {
    Link,
    Internet,
    Transport,
    Application,
}

impl TcpIpLayer {
    pub const ALL: [TcpIpLayer; 4] = [
        TcpIpLayer::Link,
        TcpIpLayer::Internet,
        TcpIpLayer::Transport,
        TcpIpLayer::Application,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            TcpIpLayer::Link => "Link",
            TcpIpLayer::Internet => "Internet",
            TcpIpLayer::Transport => "Transport",
            TcpIpLayer::Application => "Application",
        }
    }

    /// The OSI layers this TCP/IP layer covers.
    pub fn osi_layers(self) -> impl Iterator<Item = OsiLayer> {
        OsiLayer::ALL.into_iter().filter(move |l| l.tcpip() == self)
    }
}

impl fmt::Display for TcpIpLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The five-layer model many textbooks teach: TCP/IP with a physical layer below the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HybridLayer {
    Physical,
    Link,
    Network,
    Transport,
    Application,
}

impl HybridLayer {
    pub const fn name(self) -> &'static str {
        match self {
            HybridLayer::Physical => "Physical",
            HybridLayer::Link => "Link",
            HybridLayer::Network => "Network",
            HybridLayer::Transport => "Transport",
            HybridLayer::Application => "Application",
        }
    }
}

impl fmt::Display for HybridLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every protocol netlab builds, decodes or talks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Ethernet,
    Vlan,
    LinuxSll,
    Arp,
    Ipv4,
    Ipv6,
    Icmpv4,
    Icmpv6,
    Tcp,
    Udp,
    Tls,
    Http1,
    WebSocket,
    Dns,
    SocketIo,
}

impl Protocol {
    pub const ALL: [Protocol; 15] = [
        Protocol::Ethernet,
        Protocol::Vlan,
        Protocol::LinuxSll,
        Protocol::Arp,
        Protocol::Ipv4,
        Protocol::Ipv6,
        Protocol::Icmpv4,
        Protocol::Icmpv6,
        Protocol::Tcp,
        Protocol::Udp,
        Protocol::Tls,
        Protocol::Http1,
        Protocol::WebSocket,
        Protocol::Dns,
        Protocol::SocketIo,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Ethernet => "Ethernet",
            Protocol::Vlan => "802.1Q VLAN",
            Protocol::LinuxSll => "Linux cooked capture",
            Protocol::Arp => "ARP",
            Protocol::Ipv4 => "IPv4",
            Protocol::Ipv6 => "IPv6",
            Protocol::Icmpv4 => "ICMPv4",
            Protocol::Icmpv6 => "ICMPv6",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Tls => "TLS",
            Protocol::Http1 => "HTTP/1.x",
            Protocol::WebSocket => "WebSocket",
            Protocol::Dns => "DNS",
            Protocol::SocketIo => "Socket.IO",
        }
    }

    /// The OSI layer textbooks most often give. See [`Protocol::placement_note`] where
    /// that is contested.
    pub const fn osi(self) -> OsiLayer {
        match self {
            Protocol::Ethernet | Protocol::Vlan | Protocol::LinuxSll | Protocol::Arp => {
                OsiLayer::DataLink
            }
            Protocol::Ipv4 | Protocol::Ipv6 | Protocol::Icmpv4 | Protocol::Icmpv6 => {
                OsiLayer::Network
            }
            Protocol::Tcp | Protocol::Udp => OsiLayer::Transport,
            Protocol::Tls => OsiLayer::Presentation,
            Protocol::Http1 | Protocol::WebSocket | Protocol::Dns | Protocol::SocketIo => {
                OsiLayer::Application
            }
        }
    }

    /// The RFC 1122 layer. Mostly follows from the OSI layer; ARP is the exception worth
    /// knowing: RFC 1122 §2.3.2 describes it under the *link* layer.
    pub const fn tcpip(self) -> TcpIpLayer {
        self.osi().tcpip()
    }

    /// The five-layer hybrid's layer.
    pub const fn hybrid(self) -> HybridLayer {
        self.osi().hybrid()
    }

    /// The name the protocol's own standard gives its unit of data.
    pub const fn pdu(self) -> &'static str {
        match self {
            Protocol::Ethernet | Protocol::Vlan | Protocol::LinuxSll => "frame",
            Protocol::Arp => "packet",
            Protocol::Ipv4 | Protocol::Ipv6 => "packet",
            Protocol::Icmpv4 | Protocol::Icmpv6 => "message",
            Protocol::Tcp => "segment",
            Protocol::Udp => "datagram",
            Protocol::Tls => "record",
            Protocol::Http1 => "message",
            Protocol::WebSocket => "frame (frames make a message)",
            Protocol::Dns => "message",
            Protocol::SocketIo => "packet",
        }
    }

    /// The document that defines the protocol (the current one where it was revised).
    pub const fn standard(self) -> &'static str {
        match self {
            Protocol::Ethernet => "IEEE 802.3 (Ethernet II framing: RFC 894 for IP)",
            Protocol::Vlan => "IEEE 802.1Q",
            Protocol::LinuxSll => "libpcap LINKTYPE_LINUX_SLL / SLL2",
            Protocol::Arp => "RFC 826",
            Protocol::Ipv4 => "RFC 791",
            Protocol::Ipv6 => "RFC 8200",
            Protocol::Icmpv4 => "RFC 792",
            Protocol::Icmpv6 => "RFC 4443",
            Protocol::Tcp => "RFC 9293 (obsoletes RFC 793)",
            Protocol::Udp => "RFC 768",
            Protocol::Tls => "RFC 8446 (TLS 1.3)",
            Protocol::Http1 => "RFC 9112 (syntax), RFC 9110 (semantics); formerly RFC 7230",
            Protocol::WebSocket => "RFC 6455",
            Protocol::Dns => "RFC 1034, RFC 1035",
            Protocol::SocketIo => "Socket.IO protocol v5 (a project specification, not an RFC)",
        }
    }

    /// Where the placement is debatable, what the debate is.
    pub const fn placement_note(self) -> Option<&'static str> {
        match self {
            Protocol::Arp => Some(
                "Between layers 2 and 3 (\"layer 2.5\"): it rides directly in Ethernet frames \
                 (EtherType 0x0806) but exists to serve IP addresses. RFC 1122 §2.3.2 puts it \
                 in the link layer.",
            ),
            // Two notes, not one: ICMPv6 is a protocol of its own (RFC 4443), with its own
            // number in its own header field, not ICMPv4 carried over IPv6.
            Protocol::Icmpv4 => Some(
                "Carried inside IPv4 like a transport protocol (IP protocol 1), yet part of the \
                 network layer: RFC 792 calls ICMP \"an integral part of IP\", and RFC 1122 \
                 §3.2.2 places it in the internet layer.",
            ),
            Protocol::Icmpv6 => Some(
                "Carried inside IPv6 like a transport protocol (next header 58), yet part of the \
                 network layer: RFC 4443 §1 calls ICMPv6 \"an integral part of IPv6\", which \
                 every IPv6 node must implement in full; it also does ARP's job there \
                 (neighbour discovery, RFC 4861).",
            ),
            Protocol::Tls => Some(
                "Textbooks disagree: session (5), presentation (6), or even transport (by its \
                 name). To TCP/IP it is application-layer code running above TCP.",
            ),
            Protocol::WebSocket => Some(
                "Application layer: it runs inside a TCP byte stream after an HTTP/1.1 \
                 Upgrade. It has \"frames\" like a link layer, but that is only the name of \
                 its unit, not its layer.",
            ),
            Protocol::LinuxSll => Some(
                "Not a protocol on any wire: a pseudo-header that Linux capture writes in \
                 place of the real link-layer header (for example on the \"any\" device).",
            ),
            Protocol::Ipv4 => {
                Some("RFC 791 calls its unit an \"internet datagram\"; textbooks say \"packet\".")
            }
            Protocol::SocketIo => Some(
                "Application layer above Engine.IO, which runs over HTTP long-polling or \
                 WebSocket. It is not a WebSocket implementation.",
            ),
            Protocol::Ethernet => Some(
                "IEEE 802.3 covers the physical layer too (cabling, signalling); netlab only \
                 ever sees its layer-2 framing.",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1122_has_four_layers_and_they_cover_osi() {
        let covered: Vec<OsiLayer> = TcpIpLayer::ALL
            .into_iter()
            .flat_map(TcpIpLayer::osi_layers)
            .collect();
        assert_eq!(covered, OsiLayer::ALL.to_vec());
        assert_eq!(
            TcpIpLayer::Application.osi_layers().count(),
            3,
            "5, 6 and 7 fold into application"
        );
    }

    #[test]
    fn textbook_placements() {
        assert_eq!(Protocol::Tcp.osi().number(), 4);
        assert_eq!(Protocol::Udp.pdu(), "datagram");
        assert_eq!(Protocol::Tcp.pdu(), "segment");
        assert_eq!(Protocol::Ipv6.tcpip(), TcpIpLayer::Internet);
        assert_eq!(Protocol::Arp.tcpip(), TcpIpLayer::Link);
        assert_eq!(Protocol::WebSocket.tcpip(), TcpIpLayer::Application);
        assert_eq!(Protocol::Ethernet.hybrid(), HybridLayer::Link);
    }

    #[test]
    fn contested_placements_carry_a_note() {
        for p in [
            Protocol::Arp,
            Protocol::Icmpv4,
            Protocol::Icmpv6,
            Protocol::Tls,
            Protocol::WebSocket,
        ] {
            assert!(p.placement_note().is_some(), "{p} needs a placement note");
        }
    }

    #[test]
    fn each_icmp_note_cites_its_own_standard_and_number() {
        let v4 = Protocol::Icmpv4.placement_note().unwrap_or_default();
        assert!(
            v4.contains("RFC 792") && v4.contains("IP protocol 1"),
            "{v4}"
        );
        assert!(!v4.contains("58"), "{v4}");
        let v6 = Protocol::Icmpv6.placement_note().unwrap_or_default();
        assert!(
            v6.contains("RFC 4443") && v6.contains("next header 58"),
            "{v6}"
        );
        assert!(v6.contains("an integral part of IPv6"), "{v6}");
        for wrong in ["RFC 792", "RFC 1122", "protocol 1"] {
            assert!(!v6.contains(wrong), "ICMPv6's note cites {wrong}: {v6}");
        }
    }

    #[test]
    fn all_lists_every_protocol_once() {
        let mut v = Protocol::ALL.to_vec();
        v.sort();
        v.dedup();
        assert_eq!(v.len(), Protocol::ALL.len());
    }
}
