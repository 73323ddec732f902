//! The annotated hexdump (`--hex`): every byte of a frame next to the layer and field it
//! belongs to. The labels come from the same field ranges the decoders use
//! (`wire::*::field`), so what is labelled is exactly what was parsed.

use super::packet::paint_layer;
use super::Style;
use crate::layers::OsiLayer;
use crate::wire::dissect::app::AppLayer;
use crate::wire::dissect::Dissection;
use crate::wire::text;
use std::fmt::Write as _;
use std::ops::Range;

/// One labelled run of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Range<usize>,
    pub layer: String,
    pub osi: Option<OsiLayer>,
    pub text: String,
}

/// Label every byte: header fields (fields sharing bytes are joined), then the fields of
/// application units found in this frame, then payload, trailer, and anything left over.
pub fn labels(d: &Dissection, frame: &[u8], app: &[AppLayer]) -> Vec<Label> {
    let mut out: Vec<Label> = Vec::new();
    for l in &d.layers {
        let name = if l.quoted {
            format!("{} (quoted)", l.protocol.name())
        } else {
            l.protocol.name().to_owned()
        };
        for f in l.fields(frame) {
            if f.span.is_empty() || f.span.end > frame.len() {
                continue;
            }
            let text = format!("{} = {}", f.name, f.value);
            match out.last_mut() {
                Some(last) if last.span == f.span && last.layer == name => {
                    last.text.push_str(", ");
                    last.text.push_str(&text);
                }
                _ => out.push(Label {
                    span: f.span,
                    layer: name.clone(),
                    osi: Some(l.protocol.osi()),
                    text,
                }),
            }
        }
    }
    for a in app {
        for f in &a.fields {
            if f.span.is_empty() || f.span.end > frame.len() {
                continue;
            }
            out.push(Label {
                span: f.span.clone(),
                layer: a.protocol.name().to_owned(),
                osi: Some(a.protocol.osi()),
                text: format!("{} = {}", f.name, f.value),
            });
        }
    }
    out.sort_by_key(|l| l.span.start);
    // Fill gaps so no byte goes unlabelled; a field inside or across the one before it
    // (a request line's method, a WebSocket length after its MASK bit) joins that one.
    let mut filled: Vec<Label> = Vec::with_capacity(out.len() + 3);
    let mut at = 0;
    for l in out {
        if l.span.start < at {
            if let Some(last) = filled.last_mut() {
                if l.span == last.span {
                    if !last.text.contains(&l.text) {
                        last.text.push_str(", ");
                        last.text.push_str(&l.text);
                    }
                } else if l.span.end > last.span.end {
                    last.text.push_str(", ");
                    last.text.push_str(&l.text);
                    last.span.end = l.span.end;
                    at = l.span.end;
                }
            }
            continue;
        }
        if l.span.start > at {
            filled.push(gap(d, frame, at..l.span.start));
        }
        at = at.max(l.span.end);
        filled.push(l);
    }
    if at < frame.len() {
        // Split what is left at the payload and trailer boundaries.
        let mut cuts = vec![at, frame.len()];
        for b in [d.payload.start, d.payload.end, d.trailer.start] {
            if b > at && b < frame.len() {
                cuts.push(b);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            filled.push(gap(d, frame, w[0]..w[1]));
        }
    }
    filled
}

fn gap(d: &Dissection, frame: &[u8], span: Range<usize>) -> Label {
    let bytes = &frame[span.clone()];
    let (layer, osi, text) = if span.start >= d.trailer.start && !d.trailer.is_empty() {
        (
            "trailer".to_owned(),
            None,
            format!("{} bytes of link-layer padding", bytes.len()),
        )
    } else if span.start >= d.payload.start && span.end <= d.payload.end && !d.payload.is_empty() {
        (
            "data".to_owned(),
            Some(OsiLayer::Application),
            format!(
                "{} bytes of payload {}",
                bytes.len(),
                text::quoted(bytes, 24)
            ),
        )
    } else {
        (
            "other".to_owned(),
            None,
            format!(
                "{} bytes inside a header (options, quoted data)",
                bytes.len()
            ),
        )
    };
    Label {
        span,
        layer,
        osi,
        text,
    }
}

/// Render: offset, up to 16 bytes per line, layer, and what the bytes mean.
pub fn render(d: &Dissection, frame: &[u8], app: &[AppLayer], style: &Style) -> String {
    let mut s = String::new();
    for l in labels(d, frame, app) {
        let bytes = &frame[l.span.clone()];
        for (i, chunk) in bytes.chunks(16).enumerate() {
            let hex = format!("{:<47}", text::hex(chunk, " "));
            let off = l.span.start + i * 16;
            let label = if i == 0 {
                format!("{:<10} {}", l.layer, l.text)
            } else {
                String::new()
            };
            let line = match l.osi {
                Some(osi) => paint_layer(style, osi, &format!("{hex}  {label}")),
                None => format!("{hex}  {label}"),
            };
            let _ = writeln!(s, "  {off:04x}  {}", line.trim_end());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dissect::{dissect, tests::LO_FRAME_UDP_HI, LinkType};

    #[test]
    fn every_byte_is_labelled_once() {
        let d = dissect(LinkType::Ethernet, &LO_FRAME_UDP_HI);
        let ls = labels(&d, &LO_FRAME_UDP_HI, &[]);
        let mut at = 0;
        for l in &ls {
            assert_eq!(l.span.start, at, "gap or overlap before {l:?}");
            at = l.span.end;
        }
        assert_eq!(at, LO_FRAME_UDP_HI.len());
        let text = render(&d, &LO_FRAME_UDP_HI, &[], &Style::plain());
        assert!(
            text.contains("0016  40  ") && text.contains("ttl = 64"),
            "{text}"
        );
        assert!(
            text.contains("002a  68 69") && text.contains("\"hi\""),
            "{text}"
        );
        assert!(text.contains("version = 4, ihl = 5 (20 bytes)"), "{text}");
    }
}
