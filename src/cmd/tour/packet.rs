//! Chapter 3's packet: one TCP segment with application data, shown layer by layer.
//!
//! When netlab may capture (root or CAP_NET_RAW), the tour captures its own traffic
//! live on the loopback interface: it opens a connection on 127.0.0.1, sends a line,
//! reads the echo and closes, while a capture filtered to that connection's port runs.
//! Otherwise (or if the live capture sees nothing) it reads the capture shipped with
//! netlab, `netlab capture --example tcp-handshake` ([`crate::shipped`]), built into the binary so the tour works
//! from any folder. The report says which it did and, when it fell back, why.

use crate::layers::Protocol;
use crate::net::capture::FileSource;
use crate::output::{packet as view, Paint, Render, Style};
use crate::wire::dissect::{dissect, Dissection, LayerRepr, LinkType};
use crate::wire::Field;
use anyhow::Context;
use serde::Serialize;
use std::ops::Range;

/// The built-in capture the tour reads when it cannot capture live.
pub const SHIPPED_NAME: &str = "tcp-handshake";

/// How the report names it: a command the student can run anywhere.
fn shipped_detail() -> String {
    format!("`netlab capture --example {SHIPPED_NAME}` (built into netlab)")
}

/// The line the tour sends over its own connection when it captures live.
pub const LIVE_MESSAGE: &[u8] = b"hello from the netlab tour\n";

/// Where the packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Captured now, on the loopback interface: the tour's own connection.
    Live,
    /// Read from the capture shipped with netlab.
    Shipped,
}

/// One header of the packet.
#[derive(Debug, Serialize)]
pub struct LayerRow {
    pub protocol: Protocol,
    pub name: &'static str,
    pub osi_layer: u8,
    pub osi: &'static str,
    pub tcpip: &'static str,
    pub pdu: &'static str,
    /// Byte range of the header in the frame.
    pub header: Range<usize>,
    pub summary: String,
    pub fields: Vec<Field>,
}

/// One of the seven OSI layers on this packet.
#[derive(Debug, Serialize)]
pub struct OsiPlace {
    pub layer: u8,
    pub name: &'static str,
    pub on_this_packet: String,
    pub header_bytes: String,
}

/// Chapter 3's report.
#[derive(Debug, Serialize)]
pub struct PacketReport {
    pub source: Source,
    /// The interface and connection, or the file and packet.
    pub source_detail: String,
    /// Why the packet was not captured live (when it was read from the shipped file).
    pub live_not_possible: Option<String>,
    /// Every packet of the conversation, one line each.
    pub conversation: Vec<String>,
    /// Which of them is shown (1-based).
    pub packet_number: usize,
    pub frame_len: usize,
    pub payload_len: usize,
    pub layers: Vec<LayerRow>,
    pub osi: Vec<OsiPlace>,
    #[serde(skip)]
    link: LinkType,
    #[serde(skip)]
    frame: Vec<u8>,
}

/// A captured or read frame.
struct Frame {
    link: LinkType,
    data: Vec<u8>,
}

/// Capture live if possible, else read the shipped capture.
pub fn run() -> anyhow::Result<PacketReport> {
    match live() {
        Ok((frames, detail)) => report(Source::Live, detail, None, frames),
        Err(why) => {
            let frames = shipped()?;
            report(Source::Shipped, shipped_detail(), Some(why), frames)
        }
    }
}

fn shipped() -> anyhow::Result<Vec<Frame>> {
    let e = crate::shipped::example(SHIPPED_NAME).context("the tour's capture is built in")?;
    let mut src = FileSource::from_bytes(e.bytes.to_vec())
        .with_context(|| format!("reading the built-in capture {SHIPPED_NAME}"))?;
    let mut frames = Vec::new();
    while let Some(f) = src.next_frame() {
        let Ok(f) = f else { break };
        frames.push(Frame {
            link: f.link,
            data: f.data.to_vec(),
        });
    }
    Ok(frames)
}

/// One line per packet: the IP addresses and the top header's summary (which names the
/// ports).
fn line(d: &Dissection) -> String {
    match (d.top(), d.ip_addrs()) {
        (Some(top), Some((src, dst))) => format!("{src} → {dst} {}", top.summary()),
        (Some(top), None) => top.summary(),
        (None, _) => d
            .stopped
            .as_ref()
            .map_or("empty frame".into(), |s| s.reason.clone()),
    }
}

fn tcp_payload(d: &Dissection) -> bool {
    matches!(d.top().map(|l| &l.repr), Some(LayerRepr::Tcp(_))) && !d.payload.is_empty()
}

fn report(
    source: Source,
    source_detail: String,
    live_not_possible: Option<String>,
    frames: Vec<Frame>,
) -> anyhow::Result<PacketReport> {
    let dissections: Vec<Dissection> = frames.iter().map(|f| dissect(f.link, &f.data)).collect();
    let index = dissections
        .iter()
        .position(tcp_payload)
        .context("no captured packet carried TCP data")?;
    let (d, f) = (&dissections[index], &frames[index]);
    let layers = d
        .layers
        .iter()
        .filter(|l| !l.quoted)
        .map(|l| LayerRow {
            protocol: l.protocol,
            name: l.name(),
            osi_layer: l.protocol.osi().number(),
            osi: l.protocol.osi().name(),
            tcpip: l.protocol.tcpip().name(),
            pdu: l.protocol.pdu(),
            header: l.header.clone(),
            summary: l.summary(),
            fields: l.fields(&f.data),
        })
        .collect();
    let osi = view::osi_rows(d, &f.data, &[])
        .into_iter()
        .map(|r| OsiPlace {
            layer: r.layer.number(),
            name: r.layer.name(),
            on_this_packet: r.fills,
            header_bytes: r.bytes,
        })
        .collect();
    Ok(PacketReport {
        source,
        source_detail,
        live_not_possible,
        conversation: dissections.iter().map(line).collect(),
        packet_number: index + 1,
        frame_len: f.data.len(),
        payload_len: d.payload.len(),
        layers,
        osi,
        link: f.link,
        frame: f.data.clone(),
    })
}

impl PacketReport {
    /// Headers against data, from the packet.
    pub fn takeaway(&self) -> String {
        let headers: Vec<String> = self
            .layers
            .iter()
            .map(|l| format!("{} B {}", l.header.len(), l.name))
            .collect();
        let header_total: usize = self.layers.iter().map(|l| l.header.len()).sum();
        let share = if self.frame_len == 0 {
            0.0
        } else {
            100.0 * header_total as f64 / self.frame_len as f64
        };
        format!(
            "{} B in the frame: {} headers wrap {} B of application data, so {:.0}% of this \
             packet is headers. Each header belongs to one layer; OSI's layers 5 and 6 add no \
             header of their own (TCP/IP, RFC 1122, folds them into its application layer), \
             and layer 1's bits are never captured.",
            self.frame_len,
            headers.join(" + "),
            self.payload_len,
            share
        )
    }
}

impl Render for PacketReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = match self.source {
            Source::Live => format!(
                "{} {}\n",
                style.paint(Paint::Good, "Captured live:"),
                self.source_detail
            ),
            Source::Shipped => format!(
                "{} {}\n{}\n",
                style.paint(Paint::Warn, "Read from a shipped capture:"),
                self.source_detail,
                style.paint(
                    Paint::Dim,
                    format!(
                        "  (not live: {})",
                        self.live_not_possible.as_deref().unwrap_or("unknown")
                    )
                )
            ),
        };
        s.push_str(&format!(
            "\nThe conversation, {} packets (`netlab capture` shows the same):\n",
            self.conversation.len()
        ));
        for (i, l) in self.conversation.iter().enumerate() {
            let mark = if i + 1 == self.packet_number {
                "►"
            } else {
                " "
            };
            s.push_str(&format!("  {mark}{:>3}  {l}\n", i + 1));
        }
        let d = dissect(self.link, &self.frame);
        s.push_str(&format!(
            "\n{}\n",
            style.paint(
                Paint::Bold,
                format!(
                    "Packet {}, header by header (`netlab capture --layers`)",
                    self.packet_number
                )
            )
        ));
        s.push_str(&view::layer_tree(&d, &self.frame, &[], style));
        s.push_str(&format!(
            "\n{}\n",
            style.paint(
                Paint::Bold,
                "The same packet in the OSI model, beside TCP/IP (`netlab capture --osi`)"
            )
        ));
        s.push_str(&view::osi_view(&d, &self.frame, &[], style));
        s
    }
}

/// Capture the tour's own connection on loopback. `Err` says why it could not.
#[cfg(feature = "capture")]
fn live() -> Result<(Vec<Frame>, String), String> {
    use crate::net::capture::{loopback_name, LiveCapture};
    use std::time::{Duration, Instant};

    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| format!("could not listen on 127.0.0.1: {e}"))?;
    let server = listener
        .local_addr()
        .map_err(|e| format!("could not read the listener's address: {e}"))?;
    let port = server.port();
    let iface = loopback_name();
    let keep: crate::net::capture::Keep = Box::new(move |bytes| {
        dissect(LinkType::Ethernet, bytes)
            .ports()
            .is_some_and(|(s, d)| s == port || d == port)
    });
    let cap = LiveCapture::start(&iface, 256, keep).map_err(|e| {
        let why = match &e {
            crate::net::capture::CaptureError::PermissionDenied { .. } => {
                "live capture needs root or CAP_NET_RAW, and this process has neither; \
                 run `sudo netlab tour` to see the tour's own packets"
                    .to_owned()
            }
            other => format!("{other}"),
        };
        format!("{why} (capturing on `{iface}`)")
    })?;
    let exchanged = exchange(&listener);
    // The exchange is over; the capture thread may still be handing over its last frames.
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && frames.len() < 64 {
        match cap.next_timeout(Duration::from_millis(300)) {
            Some(f) => frames.push(Frame {
                link: f.link,
                data: f.data,
            }),
            None => break,
        }
    }
    cap.finish();
    let client = exchanged.map_err(|e| format!("the tour's own connection failed: {e}"))?;
    if !frames
        .iter()
        .any(|f| tcp_payload(&dissect(f.link, &f.data)))
    {
        return Err(format!(
            "the live capture on `{iface}` saw {} packets of the tour's connection, none with data",
            frames.len()
        ));
    }
    Ok((
        frames,
        format!(
            "interface {iface}, the tour's own connection {client} → {server}: it sent {:?}, \
             the server echoed it, both closed",
            String::from_utf8_lossy(LIVE_MESSAGE)
        ),
    ))
}

#[cfg(not(feature = "capture"))]
fn live() -> Result<(Vec<Frame>, String), String> {
    Err("this netlab was built without live capture (the `capture` feature)".into())
}

/// Connect, send a line, read the echo, close both ways. Every wait is bounded.
#[cfg(feature = "capture")]
fn exchange(listener: &std::net::TcpListener) -> std::io::Result<std::net::SocketAddr> {
    use std::io::{Read, Write};
    use std::time::Duration;
    let limit = Some(Duration::from_secs(2));
    let addr = listener.local_addr()?;
    let mut client = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    let local = client.local_addr()?;
    client.set_read_timeout(limit)?;
    // The kernel completed the handshake already; accept() returns at once.
    let (mut server, _) = listener.accept()?;
    server.set_read_timeout(limit)?;
    client.write_all(LIVE_MESSAGE)?;
    let mut buf = vec![0u8; LIVE_MESSAGE.len()];
    server.read_exact(&mut buf)?;
    server.write_all(&buf)?;
    client.read_exact(&mut buf)?;
    client.shutdown(std::net::Shutdown::Write)?;
    // The client's FIN: read() returns 0.
    let mut rest = [0u8; 16];
    let _ = server.read(&mut rest)?;
    drop(server);
    let _ = client.read(&mut rest)?;
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_capture_has_a_data_segment_with_every_layer() {
        let r = report(
            Source::Shipped,
            shipped_detail(),
            Some("test".into()),
            shipped().unwrap(),
        )
        .unwrap();
        assert_eq!(r.conversation.len(), 10, "{:?}", r.conversation);
        // "hello netlab\n": 13 bytes after Ethernet, IPv4 and TCP headers.
        assert_eq!(r.payload_len, 13);
        let names: Vec<&str> = r.layers.iter().map(|l| l.name).collect();
        assert_eq!(names, ["Ethernet II", "IPv4", "TCP"]);
        let headers: usize = r.layers.iter().map(|l| l.header.len()).sum();
        assert_eq!(headers + r.payload_len, r.frame_len);
        assert_eq!(r.osi.len(), 7);
        assert!(r
            .takeaway()
            .contains(&format!("{} B in the frame", r.frame_len)));
    }
}
