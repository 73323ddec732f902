//! The dissector's side of IP fragment reassembly: which fragment a packet carries (for
//! [`fragments::Defragmenter`]), and the transport header of a reassembled datagram,
//! decoded once over all its bytes so that its checksum can be checked (RFC 768, RFC
//! 792, RFC 4443 §2.3: the sum covers the whole message, not one fragment).

use super::{Dissection, LayerRepr};
use crate::wire::checksum::Pseudo;
use crate::wire::internet::fragments::{self, Key};
use crate::wire::internet::{icmpv4, icmpv6};
use crate::wire::transport::{tcp, udp};
use core::net::IpAddr;
use std::ops::Range;

/// A fragment found in a packet: its datagram, its place and its bytes in the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentAt {
    pub key: Key,
    pub offset: usize,
    pub more: bool,
    pub data: Range<usize>,
}

impl Dissection {
    /// The IP fragment this packet carries, when it is one and every byte of it was
    /// captured (a piece cut short by the snap length cannot be put back). The bytes
    /// run from the end of the IP header (IPv6: of the Fragment header) to the end the
    /// IP header gives.
    pub fn fragment(&self, frame_len: usize) -> Option<FragmentAt> {
        let mut v6: Option<(IpAddr, IpAddr, usize)> = None;
        for l in self.layers.iter().filter(|l| !l.quoted) {
            match &l.repr {
                LayerRepr::Ipv4(r) => {
                    if !r.more_frags && r.frag_offset == 0 {
                        return None;
                    }
                    let end = l.header.start + usize::from(r.total_length);
                    return (end <= frame_len && l.header.end <= end).then(|| FragmentAt {
                        key: Key {
                            src: IpAddr::V4(r.src),
                            dst: IpAddr::V4(r.dst),
                            protocol: u8::from(r.protocol),
                            ident: u32::from(r.ident),
                        },
                        offset: usize::from(r.frag_offset),
                        more: r.more_frags,
                        data: l.header.end..end,
                    });
                }
                LayerRepr::Ipv6(r) => {
                    let end = l.header.end + usize::from(r.payload_len);
                    v6 = Some((IpAddr::V6(r.src), IpAddr::V6(r.dst), end));
                }
                LayerRepr::Ipv6Ext(e) => {
                    let (Some(fr), Some((src, dst, end))) = (e.fragment, v6) else {
                        continue;
                    };
                    if !fr.more && fr.offset == 0 {
                        return None; // an "atomic fragment" (RFC 6946): a whole datagram
                    }
                    return (end <= frame_len && l.header.end <= end).then(|| FragmentAt {
                        key: Key {
                            src,
                            dst,
                            protocol: u8::from(e.next_header),
                            ident: fr.ident,
                        },
                        offset: usize::from(fr.offset),
                        more: fr.more,
                        data: l.header.end..end,
                    });
                }
                _ => {}
            }
        }
        None
    }
}

/// The transport header of a reassembled datagram (`payload`: every byte after the IP
/// headers), its checksum verified over the whole: UDP, TCP, ICMP or ICMPv6. `None` for
/// another protocol or a payload too short for its header.
pub fn reassembled(d: &fragments::Datagram) -> Option<LayerRepr> {
    let b = d.payload.as_slice();
    let pseudo = match (d.key.src, d.key.dst) {
        (IpAddr::V4(s), IpAddr::V4(t)) => Pseudo::V4(s.octets(), t.octets()),
        (IpAddr::V6(s), IpAddr::V6(t)) => Pseudo::V6(s.octets(), t.octets()),
        _ => return None,
    };
    match d.key.protocol {
        17 => {
            let u = udp::Datagram::new_header_checked(b).ok()?;
            Some(LayerRepr::Udp(udp::Repr::parse(&u, pseudo)))
        }
        6 => {
            let s = tcp::Segment::new_checked(b).ok()?;
            Some(LayerRepr::Tcp(tcp::Repr::parse(&s, pseudo, true, b.len())))
        }
        1 => {
            let m = icmpv4::Message::new_checked(b).ok()?;
            Some(LayerRepr::Icmpv4(icmpv4::Repr::parse(&m, true)))
        }
        58 => {
            let (IpAddr::V6(s), IpAddr::V6(t)) = (d.key.src, d.key.dst) else {
                return None;
            };
            let m = icmpv6::Message::new_checked(b).ok()?;
            Some(LayerRepr::Icmpv6(icmpv6::Repr::parse(&m, s, t, true)))
        }
        _ => None,
    }
}
