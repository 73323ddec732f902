//! `netlab osi`: the three layer models side by side, and every protocol's placement.

use crate::layers::{OsiLayer, Protocol};
use crate::output::{Output, Paint, Render, Style};
use serde::Serialize;

/// One OSI layer with its counterparts in the other two models.
#[derive(Debug, Serialize)]
pub struct ModelRow {
    pub osi_number: u8,
    pub osi: &'static str,
    pub hybrid: &'static str,
    pub tcpip: &'static str,
    pub pdu: &'static str,
    pub role: &'static str,
}

/// One protocol's placement.
#[derive(Debug, Serialize)]
pub struct ProtocolRow {
    pub protocol: Protocol,
    pub name: &'static str,
    pub osi_number: u8,
    pub osi: &'static str,
    pub tcpip: &'static str,
    pub hybrid: &'static str,
    pub pdu: &'static str,
    pub standard: &'static str,
    pub note: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct OsiReport {
    pub models: Vec<ModelRow>,
    pub protocols: Vec<ProtocolRow>,
}

/// Build the report from `layers.rs`; nothing here is written twice.
pub fn report() -> OsiReport {
    let models = OsiLayer::ALL
        .iter()
        .rev()
        .map(|&l| ModelRow {
            osi_number: l.number(),
            osi: l.name(),
            hybrid: l.hybrid().name(),
            tcpip: l.tcpip().name(),
            pdu: l.pdu(),
            role: l.role(),
        })
        .collect();
    let mut protocols: Vec<ProtocolRow> = Protocol::ALL
        .iter()
        .map(|&p| ProtocolRow {
            protocol: p,
            name: p.name(),
            osi_number: p.osi().number(),
            osi: p.osi().name(),
            tcpip: p.tcpip().name(),
            hybrid: p.hybrid().name(),
            pdu: p.pdu(),
            standard: p.standard(),
            note: p.placement_note(),
        })
        .collect();
    protocols.sort_by_key(|p| std::cmp::Reverse(p.osi_number));
    OsiReport { models, protocols }
}

pub fn run(out: &mut Output) -> anyhow::Result<()> {
    out.report(&report())?;
    Ok(())
}

impl Render for OsiReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = String::new();
        s.push_str(&style.paint(Paint::Bold, "Three layer models, side by side"));
        s.push('\n');
        let mut t = style.table();
        t.set_header(vec![
            "OSI (ISO/IEC 7498-1)",
            "five-layer (textbooks)",
            "TCP/IP (RFC 1122)",
            "unit of data (PDU)",
            "responsibility",
        ]);
        for m in &self.models {
            t.add_row(vec![
                format!("{} {}", m.osi_number, m.osi),
                m.hybrid.to_owned(),
                m.tcpip.to_owned(),
                m.pdu.to_owned(),
                m.role.to_owned(),
            ]);
        }
        s.push_str(&t.to_string());
        s.push_str(
            "\nOSI is a reference model; RFC 1122's four layers are the Internet's own; the \
             five-layer stack is a textbook hybrid of the two. RFC 1122's link layer also \
             covers the hardware below it.\n\n",
        );
        s.push_str(&style.paint(Paint::Bold, "Where each protocol sits"));
        s.push('\n');
        let mut t = style.table();
        t.set_header(vec![
            "protocol",
            "OSI",
            "TCP/IP",
            "five-layer",
            "PDU",
            "defined by",
        ]);
        for p in &self.protocols {
            let name = if p.note.is_some() {
                format!("{} *", p.name)
            } else {
                p.name.to_owned()
            };
            t.add_row(vec![
                name,
                format!("{} {}", p.osi_number, p.osi),
                p.tcpip.to_owned(),
                p.hybrid.to_owned(),
                p.pdu.to_owned(),
                p.standard.to_owned(),
            ]);
        }
        s.push_str(&t.to_string());
        s.push_str("\n\n* placement notes:\n");
        for p in self.protocols.iter().filter(|p| p.note.is_some()) {
            s.push_str(&format!(
                "  {}: {}\n",
                style.paint(Paint::Bold, p.name),
                p.note.unwrap_or_default()
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_covers_every_layer_and_protocol() {
        let r = report();
        assert_eq!(r.models.len(), 7);
        assert_eq!(r.models[0].osi_number, 7, "printed top (application) down");
        assert_eq!(r.protocols.len(), Protocol::ALL.len());
        let text = r.render_human(&Style::plain());
        for p in Protocol::ALL {
            assert!(text.contains(p.name()), "{p} missing from the table");
        }
        assert!(text.contains("RFC 1122"));
    }
}
