//! Views of one decoded packet: the layer tree (`--layers`) and the encapsulation down
//! the seven OSI layers (`--osi`). Both read placement from `crate::layers`, so they
//! cannot disagree with `netlab osi` or the docs.

use super::Style;
use crate::layers::{OsiLayer, Protocol};
use crate::wire::application::tls;
use crate::wire::dissect::app::AppLayer;
use crate::wire::dissect::{Dissection, Layer, LayerRepr, LinkType};
use crate::wire::text::{push_num, quoted};
use std::fmt::Write as _;

/// ANSI colour for an OSI layer, so the tree, the OSI view and the hexdump agree.
pub fn layer_colour(osi: OsiLayer) -> &'static str {
    match osi {
        OsiLayer::Physical => "90",
        OsiLayer::DataLink => "34",
        OsiLayer::Network => "32",
        OsiLayer::Transport => "33",
        OsiLayer::Session | OsiLayer::Presentation => "36",
        OsiLayer::Application => "35",
    }
}

pub fn paint_layer(style: &Style, osi: OsiLayer, text: &str) -> String {
    if style.color {
        format!("\x1b[{}m{text}\x1b[0m", layer_colour(osi))
    } else {
        text.to_owned()
    }
}

/// Append `text` padded with spaces to `width` characters (cheaper than `{:<w}`, which
/// writes its padding one character at a time; `--layers` pads every field).
fn push_padded(s: &mut String, text: &str, width: usize) {
    const SPACES: &str = "                                ";
    s.push_str(text);
    // Names here are ASCII, so bytes are columns; one append, not a space at a time.
    let pad = width.saturating_sub(text.len());
    s.push_str(&SPACES[..pad.min(SPACES.len())]);
}

fn placement(style: &Style, p: Protocol, pdu: &str) -> String {
    let mut text = String::with_capacity(64);
    push_placement(&mut text, style, p, pdu);
    text
}

/// "L3 Network      │ TCP/IP Internet    │ packet   ", coloured by OSI layer when colour
/// is on; appended to `s` (once per layer per packet in `--layers`).
fn push_placement(s: &mut String, style: &Style, p: Protocol, pdu: &str) {
    if style.color {
        let mut text = String::with_capacity(64);
        push_placement(
            &mut text,
            &Style {
                color: false,
                ..*style
            },
            p,
            pdu,
        );
        s.push_str(&paint_layer(style, p.osi(), &text));
        return;
    }
    let osi = p.osi();
    let text = s;
    text.push('L');
    text.push(char::from(b'0' + osi.number()));
    text.push(' ');
    push_padded(text, osi.name(), 12);
    text.push_str(" │ TCP/IP ");
    push_padded(text, p.tcpip().name(), 11);
    text.push_str(" │ ");
    push_padded(text, pdu, 9);
}

fn pdu_of(l: &Layer) -> &'static str {
    match l.repr {
        LayerRepr::Ipv6Ext(_) => "ext. header",
        LayerRepr::Vlan(_) => "tag",
        _ => match l.protocol {
            Protocol::Ethernet | Protocol::LinuxSll => "frame",
            p => p.pdu(),
        },
    }
}

/// `--layers`: every header, outermost first, with its fields.
pub fn layer_tree(d: &Dissection, frame: &[u8], app: &[AppLayer], style: &Style) -> String {
    let mut s = String::with_capacity(2048);
    write_layer_tree(&mut s, d, frame, app, style);
    s
}

/// `--layers`, appended to `s` (no intermediate string per packet). `app` are the
/// application units that completed in this packet (decoded from the reassembled
/// stream), shown after the headers with their placement.
pub fn write_layer_tree(
    s: &mut String,
    d: &Dissection,
    frame: &[u8],
    app: &[AppLayer],
    style: &Style,
) {
    for l in &d.layers {
        write_header_layer(s, l, frame, style);
    }
    for a in app {
        write_app_unit(s, a, style);
    }
    write_undecoded_payload(s, d, frame, app, style);
    write_leftovers(s, d, style);
}

/// `--layers` on a pcapng packet: the interface it was captured on, before its headers
/// (Wireshark's "on interface NAME, id N").
pub fn write_interface(s: &mut String, id: u32, name: Option<&str>, link: LinkType, style: &Style) {
    let mut line = String::with_capacity(64);
    let _ = write!(line, "  captured on interface {id}");
    if let Some(n) = name {
        let _ = write!(line, " ({n})");
    }
    let _ = write!(line, ", link type {link}");
    s.push_str(&style.paint(super::Paint::Dim, line));
    s.push('\n');
}

/// One field line under a layer: "      name               value".
#[inline]
fn push_field(s: &mut String, name: &str, value: &str) {
    s.push_str("      ");
    push_padded(s, name, 18);
    s.push(' ');
    s.push_str(value);
    s.push('\n');
}

/// One header of the walk, with its placement, byte range and fields.
#[inline]
fn write_header_layer(s: &mut String, l: &Layer, frame: &[u8], style: &Style) {
    let quoted = if l.quoted {
        "  (quoted by the ICMP error)"
    } else {
        ""
    };
    // "  L3 Network … │ IPv4 [bytes 14..34]", by hand: once per layer per packet.
    s.push_str("  ");
    push_placement(s, style, l.protocol, pdu_of(l));
    s.push(' ');
    if style.color {
        s.push_str(&style.paint(super::Paint::Bold, l.name()));
    } else {
        s.push_str(l.name());
    }
    s.push_str(" [bytes ");
    push_num(s, l.header.start as u64);
    s.push_str("..");
    push_num(s, l.header.end as u64);
    s.push(']');
    s.push_str(quoted);
    s.push('\n');
    for f in l.fields(frame) {
        push_field(s, f.name, &f.value);
    }
}

/// An application unit that completed in this packet: where its bytes are, which
/// packets it was reassembled from, and its fields.
fn write_app_unit(s: &mut String, a: &AppLayer, style: &Style) {
    let bytes = if a.here.is_empty() {
        "its bytes came in earlier packets".to_string()
    } else if a.reassembled_from.is_some() {
        format!("its last bytes: {}..{}", a.here.start, a.here.end)
    } else {
        format!("bytes {}..{}", a.here.start, a.here.end)
    };
    let _ = writeln!(
        *s,
        "  {} {} [{bytes}] {}",
        placement(style, a.protocol, a.pdu),
        style.paint(super::Paint::Bold, a.name),
        a.summary
    );
    if let Some((first, last)) = a.reassembled_from {
        let _ = writeln!(
            *s,
            "      [reassembled from packets {first}–{last}: completes in this one]"
        );
    }
    for f in &a.fields {
        push_field(s, f.name, &f.value);
    }
}

/// Payload no decoder read: a glance at its first bytes, named TLS when it looks like a
/// TLS record.
#[inline]
fn write_undecoded_payload(
    s: &mut String,
    d: &Dissection,
    frame: &[u8],
    app: &[AppLayer],
    style: &Style,
) {
    let payload = frame.get(d.payload.clone()).unwrap_or(&[]);
    // An application decoder (DNS) that read the whole payload has shown it already.
    let decoded = d
        .top()
        .is_some_and(|l| l.protocol.osi() == OsiLayer::Application && l.header == d.payload);
    if !payload.is_empty() && app.is_empty() && !decoded {
        let what = if tls::looks_like_record(payload) {
            "TLS record (encrypted application data)"
        } else {
            "application data"
        };
        let _ = writeln!(
            *s,
            "  {} {} bytes of {what} [bytes {}..{}] {}",
            placement(style, Protocol::Http1, "data"),
            payload.len(),
            d.payload.start,
            d.payload.end,
            quoted(payload, 48)
        );
    }
}

/// What the walk left: bytes after the packet's end, and why decoding stopped early.
#[inline]
fn write_leftovers(s: &mut String, d: &Dissection, style: &Style) {
    if !d.trailer.is_empty() {
        let _ = writeln!(
            *s,
            "  {} bytes after the packet's end: link-layer padding or trailer [bytes {}..{}]",
            d.trailer.len(),
            d.trailer.start,
            d.trailer.end
        );
    }
    if let Some(st) = &d.stopped {
        let _ = writeln!(
            *s,
            "  {} {}",
            style.paint(super::Paint::Warn, "decoding stopped:"),
            st.reason
        );
    }
}

/// `--layers`: this packet's payload is part of a unit that completes later.
pub fn write_continues(s: &mut String, p: Protocol, style: &Style) {
    let _ =
        writeln!(
        *s,
        "  {} {} [part of a {} that completes in a later packet: TCP segment of a reassembled PDU]",
        placement(style, p, "data"),
        style.paint(super::Paint::Bold, p.name()),
        if p == Protocol::WebSocket { "frame" } else { "message" }
    );
}

/// One row of the `--osi` view.
pub struct OsiRow {
    pub layer: OsiLayer,
    pub fills: String,
    pub bytes: String,
}

/// What fills each of the seven OSI layers in this packet, from 7 down to 1.
pub fn osi_rows(d: &Dissection, frame: &[u8], app: &[AppLayer]) -> Vec<OsiRow> {
    let own: Vec<&Layer> = d.layers.iter().filter(|l| !l.quoted).collect();
    let payload = frame.get(d.payload.clone()).unwrap_or(&[]);
    let transport = own.iter().find(|l| l.protocol.osi() == OsiLayer::Transport);
    let tls = transport.is_some() && tls::looks_like_record(payload);
    OsiLayer::ALL
        .iter()
        .rev()
        .map(|&layer| {
            let here: Vec<&&Layer> = own.iter().filter(|l| l.protocol.osi() == layer).collect();
            let bytes: usize = here.iter().map(|l| l.header.len()).sum();
            let (fills, bytes) = match layer {
                OsiLayer::Physical => (
                    "the bits on the wire: not captured. Preamble, start-of-frame delimiter, frame check \
                     sequence and line coding are the network card's business; on loopback there is no wire."
                        .to_owned(),
                    "-".to_owned(),
                ),
                OsiLayer::Application if !app.is_empty() => (
                    app.iter()
                        .map(|a| {
                            let from = a
                                .reassembled_from
                                .map(|(f, l)| format!(", reassembled from packets {f}–{l}"))
                                .unwrap_or_default();
                            // "WebSocket frame" already names its PDU: no "frame frame".
                            let name = if a.name.ends_with(a.pdu) {
                                a.name.to_owned()
                            } else {
                                format!("{} {}", a.name, a.pdu)
                            };
                            format!("{name} ({}{from})", a.summary)
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    payload.len().to_string(),
                ),
                OsiLayer::Application if !here.is_empty() => (
                    here.iter().map(|l| format!("{} {} ({})", l.name(), pdu_of(l), l.summary())).collect::<Vec<_>>().join("; "),
                    bytes.to_string(),
                ),
                OsiLayer::Application if payload.is_empty() => {
                    ("nothing on this packet: it carries no application data".into(), "0".into())
                }
                OsiLayer::Application if tls => (
                    format!("{} bytes the application wrote, encrypted inside the TLS record", payload.len()),
                    payload.len().to_string(),
                ),
                OsiLayer::Application => {
                    let port = d.ports().map(|(s, t)| format!(" (ports {s} → {t})")).unwrap_or_default();
                    (format!("{} bytes of application data{port}: {}", payload.len(), quoted(payload, 32)), payload.len().to_string())
                }
                OsiLayer::Presentation if tls => ("TLS: encryption and encoding of the application's bytes".into(), "(in payload)".into()),
                OsiLayer::Presentation => ("nothing on this packet (TLS would sit here if the data were encrypted)".into(), "0".into()),
                OsiLayer::Session => (
                    "nothing on this packet: the Internet stack has no session layer; applications and TCP \
                     connections play its part"
                        .into(),
                    "0".into(),
                ),
                _ if here.is_empty() => ("nothing on this packet".into(), "0".into()),
                _ => (
                    here.iter().map(|l| format!("{} {} ({})", l.name(), pdu_of(l), l.summary())).collect::<Vec<_>>().join("; "),
                    bytes.to_string(),
                ),
            };
            OsiRow { layer, fills, bytes }
        })
        .collect()
}

/// `--osi`: the packet down all seven layers, beside the four- and five-layer models.
pub fn osi_view(d: &Dissection, frame: &[u8], app: &[AppLayer], style: &Style) -> String {
    let mut t = style.table();
    t.set_header(vec![
        "OSI layer",
        "on this packet",
        "header bytes",
        "TCP/IP (RFC 1122)",
        "five-layer",
    ]);
    for r in osi_rows(d, frame, app) {
        t.add_row(vec![
            paint_layer(
                style,
                r.layer,
                &format!("{} {}", r.layer.number(), r.layer.name()),
            ),
            r.fills,
            r.bytes,
            r.layer.tcpip().name().to_owned(),
            r.layer.hybrid().name().to_owned(),
        ]);
    }
    let mut s = t.to_string();
    s.push('\n');
    // Encapsulation, outermost first: frame [ packet [ segment [ data ] ] ].
    let own: Vec<&Layer> = d.layers.iter().filter(|l| !l.quoted).collect();
    let mut enc = String::new();
    for l in &own {
        let _ = write!(enc, "{} {} [ ", l.name(), pdu_of(l));
    }
    let _ = write!(enc, "{} bytes of data", d.payload.len());
    for _ in &own {
        enc.push_str(" ]");
    }
    let _ = writeln!(s, "  encapsulation: {enc}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::{dissect, tests::LO_FRAME_UDP_HI, LinkType};

    #[test]
    fn tree_and_osi_name_every_layer() {
        let d = dissect(LinkType::Ethernet, &LO_FRAME_UDP_HI);
        let t = layer_tree(&d, &LO_FRAME_UDP_HI, &[], &Style::plain());
        assert!(
            t.contains("L2 Data link") && t.contains("L3 Network") && t.contains("L4 Transport")
        );
        assert!(t.contains("datagram") && t.contains("\"hi\""), "{t}");
        let rows = osi_rows(&d, &LO_FRAME_UDP_HI, &[]);
        assert_eq!(rows.len(), 7);
        assert!(rows[0].fills.contains("2 bytes of application data"));
        assert!(rows[6].fills.contains("not captured"));
        assert!(rows[3].fills.starts_with("UDP datagram"));
        let v = osi_view(&d, &LO_FRAME_UDP_HI, &[], &Style::plain());
        assert!(
            v.contains("Ethernet II frame [ IPv4 packet [ UDP datagram [ 2 bytes of data ] ] ]"),
            "{v}"
        );
    }
}
