//! "Follow stream" views: one conversation's reassembled bytes, each direction marked
//! (`>` from the first speaker, `<` back) and coloured like the sequence diagrams
//! (client cyan, server magenta), as text or as a hexdump.

use super::{Paint, Style};
use crate::wire::flow::Direction;
use std::fmt::Write as _;

fn paint_for(dir: Direction) -> Paint {
    match dir {
        Direction::AToB => Paint::Client,
        Direction::BToA => Paint::Server,
    }
}

/// Write `bytes` as text lines, each starting with the direction's marker. Bytes that
/// are not printable ASCII (or a tab) are shown as `.`, as Wireshark's ASCII view does;
/// `\r\n` and `\n` end lines. `at_line_start` carries across calls so a line split over
/// two segments is printed as one.
pub fn write_text(out: &mut String, dir: Direction, bytes: &[u8], style: &Style) {
    let mut line = String::new();
    let flush = |out: &mut String, line: &mut String| {
        let _ = writeln!(
            out,
            "{} {}",
            style.paint(paint_for(dir), dir.arrow()),
            style.paint(paint_for(dir), &*line)
        );
        line.clear();
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => flush(out, &mut line),
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {}
            0x20..=0x7e | b'\t' => line.push(char::from(b)),
            _ => line.push('.'),
        }
        i += 1;
    }
    if !line.is_empty() {
        // No newline at the end of this piece: show it as a line anyway (Wireshark does
        // the same when the next piece comes from the other side).
        flush(out, &mut line);
    }
}

/// Write `bytes` as a hexdump: stream offset, 16 bytes in hex, the same as text.
pub fn write_hex(out: &mut String, dir: Direction, offset: u64, bytes: &[u8], style: &Style) {
    for (k, row) in bytes.chunks(16).enumerate() {
        let mut hex = String::with_capacity(50);
        for (j, b) in row.iter().enumerate() {
            if j == 8 {
                hex.push(' ');
            }
            let _ = write!(hex, "{b:02x} ");
        }
        let text: String = row
            .iter()
            .map(|&b| {
                if (0x20..=0x7e).contains(&b) {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        let line = format!("{:08x}  {hex:<49} {text}", offset + 16 * k as u64);
        let _ = writeln!(
            out,
            "{} {}",
            style.paint(paint_for(dir), dir.arrow()),
            style.paint(paint_for(dir), line)
        );
    }
}

/// A hole in the stream: bytes that were sent but never captured.
pub fn write_gap(out: &mut String, dir: Direction, offset: u64, len: u64, style: &Style) {
    let _ = writeln!(
        out,
        "{} {}",
        dir.arrow(),
        style.paint(
            Paint::Warn,
            format!("[{len} bytes missing at stream offset {offset}: never captured]")
        )
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_are_marked_and_unprintables_dotted() {
        let mut s = String::new();
        write_text(
            &mut s,
            Direction::AToB,
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &Style::plain(),
        );
        write_text(&mut s, Direction::BToA, b"bin\x00\xffary", &Style::plain());
        assert_eq!(s, "> GET / HTTP/1.1\n> Host: x\n> \n< bin..ary\n");
    }

    #[test]
    fn hex_rows_carry_stream_offsets() {
        let mut s = String::new();
        write_hex(&mut s, Direction::BToA, 16, &[0x41; 17], &Style::plain());
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("< 00000010  41 41"), "{s}");
        assert!(lines[1].starts_with("< 00000020  41 "), "{s}");
        assert!(lines[0].ends_with("AAAAAAAAAAAAAAAA"));
    }
}
