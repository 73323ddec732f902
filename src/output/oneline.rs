//! The one-line view of a packet, as `netlab capture` prints it by default: one line per
//! packet, in the spirit of `tcpdump -nn` with Wireshark's words for what the
//! conversation tracker noticed.
//!
//! ```text
//!    3 06:02:34.516652    66 B  127.0.0.1:55710 → 127.0.0.1:9000 TCP [ACK] seq 1 ack 1 win 64 len 0 [TS]  ← handshake 3/3: ACK
//! number, time (UTC)  length    source → destination, protocol, then what this packet says
//! ```
//!
//! What the line teaches, and where it comes from:
//!
//! - **Length** is the packet's length on the wire (pcap's `orig_len`), not the bytes
//!   captured, as tcpdump's `length` is.
//! - **Endpoints**: an IPv6 address next to a port is written in brackets, `[::1]:8000`
//!   (RFC 3986 §3.2.2, RFC 5952 §6), because its colons would otherwise run into the port's.
//! - **TCP**: flag names (RFC 9293 §3.1), sequence and acknowledgement numbers counted
//!   from each side's initial sequence number (Wireshark's "relative sequence numbers";
//!   raw numbers when the handshake was not seen), the window as sent (unscaled), the
//!   payload length from the IP header (so a packet cut by the snap length still shows
//!   the length it had), then the options a student meets first: MSS (RFC 9293 §3.7.1),
//!   SACK (RFC 2018), timestamps and window scale (RFC 7323), and the handshake or
//!   teardown step.
//! - **ICMP errors** say which conversation they are about: the error quotes the
//!   offending packet's headers (RFC 792, RFC 4443 §2.4(c)).
//! - **A later IP fragment** carries no transport header: only the first fragment does
//!   (RFC 791 §2.3, §3.2), so the line says whose fragment it is and stops there.
//!
//! This is the hot path of reading a capture: a million packets are a million calls.
//! Everything is appended to one buffer per packet with `wire::text`'s writers, without
//! `format!` (see `docs/performance.md`).

use crate::layers::Protocol;
use crate::wire::dissect::flow::{Annotation, Note};
use crate::wire::dissect::{Dissection, LayerRepr};
use crate::wire::text::{push_ipv4, push_num, push_pair};
use crate::wire::transport::tcp;
use std::fmt::Write as _;
use std::net::IpAddr;

/// Append the start of the line: packet number, time of day and length on the wire
/// (`"   4 09:15:02.118734    66 B  "`). The time has as many digits after the second
/// as the capture kept (`ts` is nanoseconds since the epoch and that digit count:
/// 6 for microseconds, 9 for nanoseconds). The number and time are dimmed when colour
/// is on: the facts to read come after them.
pub fn write_head(s: &mut String, number: u64, ts: (u64, u8), orig_len: u32, color: bool) {
    if color {
        s.push_str("\x1b[2m");
    }
    push_num_width(s, number, 4, false);
    s.push(' ');
    push_time_of_day(s, ts.0, ts.1);
    if color {
        s.push_str("\x1b[0m");
    }
    s.push(' ');
    push_num_width(s, u64::from(orig_len), 5, false);
    s.push_str(" B  ");
}

/// Append the rest of the line from the dissection: the two ends, the protocol's name
/// and [`write_info`]. ARP has no ports or IP addresses, so its summary says it all.
pub fn write_packet(
    s: &mut String,
    d: &Dissection,
    network: Option<Protocol>,
    protocol: Option<Protocol>,
    ann: Option<&Annotation>,
    notes: &[Note],
) {
    if network != Some(Protocol::Arp) {
        if let Some((src, dst)) = d.ip_addrs() {
            let ports = d.ports();
            write_endpoint(s, src, ports.map(|p| p.0));
            s.push_str(" → ");
            write_endpoint(s, dst, ports.map(|p| p.1));
            s.push(' ');
        }
        if let Some(p) = protocol {
            s.push_str(p.name());
            s.push(' ');
        }
    }
    write_info(s, d, ann, notes);
}

/// Append the rest of the line from texts made earlier (an event without its
/// dissection: the `src`, `dst` and `info` that JSON carries).
pub fn write_texts(s: &mut String, src: Option<&str>, dst: Option<&str>, info: Option<&str>) {
    if let (Some(src), Some(dst)) = (src, dst) {
        let _ = write!(s, "{src} → {dst} ");
    }
    s.push_str(info.unwrap_or(""));
}

/// HH:MM:SS.fff… in UTC, with `digits` digits after the second (cut, not rounded, as
/// tcpdump and Wireshark show them; none and no point for 0).
fn push_time_of_day(s: &mut String, ts_ns: u64, digits: u8) {
    let secs = ts_ns / 1_000_000_000;
    let ns = ts_ns % 1_000_000_000;
    push_pair(s, (secs / 3600) % 24);
    s.push(':');
    push_pair(s, (secs / 60) % 60);
    s.push(':');
    push_pair(s, secs % 60);
    let digits = u32::from(digits.min(9));
    if digits > 0 {
        s.push('.');
        // The first `digits` digits of the nine: ns / 10^(9 - digits), zero-padded.
        push_num_width(s, ns / 10u64.pow(9 - digits), digits as usize, true);
    }
}

/// `address:port` (`[address]:port` for IPv6), or the address alone without a port.
pub fn endpoint(ip: IpAddr, port: Option<u16>) -> String {
    let mut s = String::new();
    write_endpoint(&mut s, ip, port);
    s
}

/// Append `n` right-aligned in `width` columns (spaces, or zeros with `zero`).
fn push_num_width(s: &mut String, n: u64, width: usize, zero: bool) {
    let digits = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
    for _ in digits..width {
        s.push(if zero { '0' } else { ' ' });
    }
    push_num(s, n);
}

/// The one-line text after the addresses.
pub fn info(d: &Dissection, ann: Option<&Annotation>, notes: &[Note]) -> String {
    let mut s = String::with_capacity(96);
    write_info(&mut s, d, ann, notes);
    s
}

/// Write the one-line text into `s` (one buffer per packet: the one-line view of a
/// million packets is mostly this function).
pub fn write_info(s: &mut String, d: &Dissection, ann: Option<&Annotation>, notes: &[Note]) {
    let Some(top) = d.top() else {
        s.push_str(
            d.stopped
                .as_ref()
                .map(|s| s.reason.as_str())
                .unwrap_or("empty frame"),
        );
        return;
    };
    match &top.repr {
        LayerRepr::Tcp(t) => write_tcp(s, t, ann, notes),
        LayerRepr::Udp(u) => {
            s.push_str("len ");
            push_num(s, u.payload_len as u64);
        }
        LayerRepr::Icmpv4(_) | LayerRepr::Icmpv6(_) => {
            let summary = top.summary();
            s.push_str(summary.split_once(' ').map(|x| x.1).unwrap_or(&summary));
            // An error message: say which conversation it is about (from the innermost
            // quoted header that is whole: RFC 792 quotes only 8 bytes of a TCP header).
            let whole = |l: &&crate::wire::dissect::Layer| {
                l.quoted && !matches!(l.repr, LayerRepr::Partial(_))
            };
            if let Some(q) = d.layers.iter().rev().find(whole) {
                let _ = write!(s, ", about {}", q.summary());
            }
        }
        LayerRepr::Partial(p) => {
            // The stop reason would say the same again.
            p.push_line(s);
            return;
        }
        LayerRepr::Ipv4(ip) if ip.frag_offset != 0 => {
            // A later fragment: only IP's header is here; the transport header travelled
            // in the first fragment.
            s.push_str("fragment id ");
            push_num(s, u64::from(ip.ident));
            s.push_str(" offset ");
            push_num(s, u64::from(ip.frag_offset));
            if ip.more_frags {
                s.push_str(" MF");
            }
            s.push_str(" of a ");
            s.push_str(ip.protocol.name());
            s.push_str(" packet (its header is in the first fragment)");
            return;
        }
        _ => s.push_str(&top.summary()),
    }
    if let Some(st) = &d.stopped {
        let _ = write!(s, " ({})", st.reason);
    }
}

/// A TCP segment: flags, relative seq/ack (raw seq when the conversation is unknown),
/// window, payload length, options, the tracker's notes and the handshake step.
fn write_tcp(s: &mut String, t: &tcp::Repr, ann: Option<&Annotation>, notes: &[Note]) {
    s.push('[');
    t.flags.push_names(s);
    s.push(']');
    s.push_str(" seq ");
    match ann {
        Some(a) => {
            push_num(s, u64::from(a.rel_seq));
            if let Some(ack) = a.rel_ack {
                s.push_str(" ack ");
                push_num(s, u64::from(ack));
            }
        }
        None => push_num(s, u64::from(t.seq)),
    }
    s.push_str(" win ");
    push_num(s, u64::from(t.window));
    s.push_str(" len ");
    push_num(s, t.payload_len as u64);
    write_tcp_options(s, &t.options);
    for n in notes {
        s.push(' ');
        if !n.push_label(s) {
            s.pop();
        }
    }
    if let Some(step) = ann.and_then(|a| a.step) {
        s.push_str("  ← ");
        s.push_str(step.describe());
    }
}

/// ` [mss 65495 sackOK TS wscale 7]`, or nothing when the segment has none of these.
fn write_tcp_options(s: &mut String, o: &tcp::Options) {
    let start = s.len();
    let sep = |s: &mut String| s.push_str(if s.len() == start { " [" } else { " " });
    if let Some(m) = o.mss {
        sep(s);
        s.push_str("mss ");
        push_num(s, u64::from(m));
    }
    if o.sack_permitted {
        sep(s);
        s.push_str("sackOK");
    }
    for (l, r) in o.sack_blocks() {
        sep(s);
        let _ = write!(s, "sack {l}-{r}");
    }
    if o.timestamps.is_some() {
        sep(s);
        s.push_str("TS");
    }
    if let Some(w) = o.window_scale {
        sep(s);
        let _ = write!(s, "wscale {w}");
    }
    if s.len() != start {
        s.push(']');
    }
}

/// Append `address:port`, IPv6 in brackets when a port follows.
pub fn write_endpoint(s: &mut String, ip: IpAddr, port: Option<u16>) {
    match ip {
        IpAddr::V4(a) => {
            push_ipv4(s, a);
        }
        IpAddr::V6(a) if port.is_some() => {
            let _ = write!(s, "[{a}]");
        }
        IpAddr::V6(a) => {
            let _ = write!(s, "{a}");
        }
    }
    if let Some(p) = port {
        s.push(':');
        push_num(s, u64::from(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time_of_day(ts_us: u64) -> String {
        let mut s = String::with_capacity(15);
        push_time_of_day(&mut s, ts_us * 1000, 6);
        s
    }

    #[test]
    fn time_of_day_is_utc() {
        assert_eq!(
            time_of_day(86_400_000_000 + 3_723_000_042),
            "01:02:03.000042"
        );
        assert_eq!(time_of_day(86_399_999_999), "23:59:59.999999");
        assert_eq!(time_of_day(10_203_040), "00:00:10.203040");
    }

    #[test]
    fn time_of_day_shows_the_digits_the_capture_kept() {
        let at = |ns: u64, digits: u8| {
            let mut s = String::new();
            push_time_of_day(&mut s, ns, digits);
            s
        };
        // 16:05:01.102775562, from tests/fixtures/time-nsec.pcap's first record.
        let ns = 1_796_659_501_102_775_562;
        assert_eq!(at(ns, 9), "16:05:01.102775562");
        assert_eq!(at(ns, 6), "16:05:01.102775");
        assert_eq!(at(ns, 3), "16:05:01.102");
        assert_eq!(at(ns, 0), "16:05:01");
        assert_eq!(at(1_000_000_007, 9), "00:00:01.000000007");
    }

    #[test]
    fn an_icmp_error_quoting_part_of_a_tcp_header_is_about_the_quoted_ip_packet() {
        use crate::wire::dissect::{dissect, LinkType};
        let mut p = crate::wire::dissect::tests::port_unreachable();
        p[20 + 8 + 9] = 6; // the quoted packet's protocol: TCP, of which 8 bytes are quoted
        let d = dissect(LinkType::Raw, &p);
        assert!(matches!(
            d.layers.last().unwrap().repr,
            LayerRepr::Partial(_)
        ));
        let line = info(&d, None, &[]);
        assert!(
            line.contains(", about IPv4 127.0.0.1 → 127.0.0.1"),
            "{line}"
        );
    }

    #[test]
    fn number_writers_match_format() {
        for n in [0u64, 7, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX] {
            let mut s = String::new();
            push_num_width(&mut s, n, 6, false);
            assert_eq!(s, format!("{n:>6}"));
        }
    }
}
