//! `--plot FILE.svg`: the comparison as a picture. Written as SVG text directly (no
//! plotting crate): one strip of dots per transport on a logarithmic latency axis, with
//! p50/p95/p99 marked, and one stacked bar per transport of bytes per event split into
//! payload, HTTP heads, framing and (when captured) TCP/IP headers.
//!
//! Pure: takes the report, returns the SVG text; the caller writes the file.

use super::{Column, CompareReport};
use std::fmt::Write;

const WIDTH: f64 = 900.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 40.0;
const ROW: f64 = 34.0;

/// Colours for the byte categories, and what they mean.
const PARTS: [(&str, &str); 4] = [
    ("#4c78a8", "event payload"),
    ("#f58518", "HTTP heads"),
    ("#54a24b", "framing (WS, SSE)"),
    ("#b8b8b8", "TCP/IP headers (capture)"),
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A log10 axis from `lo` to `hi` microseconds onto [LEFT, WIDTH - RIGHT].
fn log_x(us: f64, lo: f64, hi: f64) -> f64 {
    let span = (hi.log10() - lo.log10()).max(1e-9);
    LEFT + (us.max(lo).log10() - lo.log10()) / span * (WIDTH - LEFT - RIGHT)
}

/// The bytes of one event, by category, per delivered event.
fn per_event_parts(c: &Column) -> [f64; 4] {
    let n = c.delivered.max(1) as f64;
    let b = &c.bytes;
    let tcpip = c.wire.map(|w| w.header_bytes()).unwrap_or(0);
    [
        b.payload as f64 / n,
        b.http_heads as f64 / n,
        b.framing as f64 / n,
        tcpip as f64 / n,
    ]
}

pub fn svg(r: &CompareReport) -> String {
    let cols = &r.columns;
    let lat_top = 60.0;
    let lat_h = ROW * cols.len() as f64;
    let bytes_top = lat_top + lat_h + 90.0;
    let bytes_h = ROW * cols.len() as f64;
    let height = bytes_top + bytes_h + 80.0;
    let mut s = String::new();
    // Writing to a String cannot fail; the results of write! are ignored below.
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let w = &r.workload;
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">HTTP vs WebSocket: {} events of {} B, {} client(s), poll every {} ms</text>"#,
        w.events,
        w.payload,
        w.clients,
        w.poll_interval.as_millis()
    );
    latency_panel(&mut s, cols, lat_top, lat_h);
    bytes_panel(&mut s, cols, bytes_top);
    legend(&mut s, cols, bytes_top + bytes_h + 24.0);
    s.push_str("</svg>\n");
    s
}

/// Panel 1: latency, log scale: decade grid lines, one strip of dots per transport, and
/// its p50/p95/p99 ticks.
fn latency_panel(s: &mut String, cols: &[Column], lat_top: f64, lat_h: f64) {
    let all: Vec<u64> = cols
        .iter()
        .flat_map(|c| c.samples_us.iter().copied())
        .collect();
    let lo = 10f64.powf(
        (all.iter().copied().min().unwrap_or(10).max(1) as f64)
            .log10()
            .floor(),
    );
    let hi = 10f64.powf(
        (all.iter().copied().max().unwrap_or(1000).max(10) as f64)
            .log10()
            .ceil(),
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="{}" font-weight="bold">Delivery latency (server has the event → client has it), log scale; ticks: p50 p95 p99</text>"#,
        lat_top - 14.0
    );
    let mut decade = lo;
    while decade <= hi * 1.0001 {
        let x = log_x(decade, lo, hi);
        let label = if decade >= 1000.0 {
            format!("{} ms", decade / 1000.0)
        } else {
            format!("{decade} µs")
        };
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{lat_top}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#555">{label}</text>"##,
            lat_top + lat_h,
            lat_top + lat_h + 14.0
        );
        decade *= 10.0;
    }
    for (i, c) in cols.iter().enumerate() {
        let y = lat_top + ROW * i as f64 + ROW / 2.0;
        latency_strip(s, c, y, lo, hi);
    }
}

/// One transport's row of the latency panel, centred on `y`.
fn latency_strip(s: &mut String, c: &Column, y: f64, lo: f64, hi: f64) {
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
        LEFT - 8.0,
        y + 4.0,
        esc(c.title)
    );
    for (k, &us) in c.samples_us.iter().enumerate() {
        // Spread the dots vertically (a fixed pattern, not randomness) so they do not
        // hide each other.
        let dy = ((k * 7) % 11) as f64 - 5.0;
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2" fill="#4c78a8" fill-opacity="0.45"/>"##,
            log_x(us as f64, lo, hi),
            y + dy
        );
    }
    if let Some(l) = c.latency {
        for (v, h) in [(l.p50_us, 12.0), (l.p95_us, 9.0), (l.p99_us, 6.0)] {
            let x = log_x(v as f64, lo, hi);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#d62728" stroke-width="2"/>"##,
                y - h,
                y + h
            );
        }
    }
}

/// Panel 2: bytes per event, stacked.
fn bytes_panel(s: &mut String, cols: &[Column], bytes_top: f64) {
    let parts: Vec<[f64; 4]> = cols.iter().map(per_event_parts).collect();
    let max = parts
        .iter()
        .map(|p| p.iter().sum::<f64>())
        .fold(1.0, f64::max);
    let scale = (WIDTH - LEFT - RIGHT - 60.0) / max;
    let _ = writeln!(
        s,
        r#"<text x="10" y="{}" font-weight="bold">Bytes per event delivered</text>"#,
        bytes_top - 14.0
    );
    for (i, (c, p)) in cols.iter().zip(&parts).enumerate() {
        let y = bytes_top + ROW * i as f64 + 6.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            y + 15.0,
            esc(c.title)
        );
        let mut x = LEFT;
        for (v, (colour, what)) in p.iter().zip(PARTS) {
            let wpx = v * scale;
            if wpx > 0.0 {
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{wpx:.1}" height="{:.1}" fill="{colour}"><title>{what}: {v:.1} B</title></rect>"#,
                    ROW - 12.0
                );
            }
            x += wpx;
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{:.0} B</text>"#,
            x + 6.0,
            y + 15.0,
            p.iter().sum::<f64>()
        );
    }
}

/// The byte categories' colours on one line at `ly`, and a note when TCP/IP headers
/// could not be counted.
fn legend(s: &mut String, cols: &[Column], ly: f64) {
    let mut lx = LEFT;
    for (colour, what) in PARTS {
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.1}" y="{ly:.1}">{what}</text>"#,
            ly - 10.0,
            lx + 16.0
        );
        lx += 170.0;
    }
    if cols.iter().all(|c| c.wire.is_none()) {
        let _ = writeln!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" fill="#555">TCP/IP headers not counted (netlab counts them when it may capture: root or CAP_NET_RAW)</text>"##,
            ly + 22.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_puts_decades_evenly() {
        let a = log_x(10.0, 10.0, 1000.0);
        let b = log_x(100.0, 10.0, 1000.0);
        let c = log_x(1000.0, 10.0, 1000.0);
        assert!((a - LEFT).abs() < 1e-9);
        assert!(((b - a) - (c - b)).abs() < 1e-6);
        assert!((c - (WIDTH - RIGHT)).abs() < 1e-9);
    }
}
