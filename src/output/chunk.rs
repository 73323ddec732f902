//! A peer's bytes, made safe to show on a terminal and tagged with their connection.
//!
//! A terminal obeys control characters: `ESC ] 0 ; text BEL` retitles the window, other
//! escape sequences move the cursor, recolour, or clear the screen. A server that copied
//! a client's bytes to its terminal as they are would let any client do that, and with
//! two clients the lines would interleave with nothing to tell them apart. So
//! `netlab tcp listen` shows each piece it receives as lines tagged `[conn N]`, escaped
//! by netlab's one escaper (`wire::text::push_escaped`): printable ASCII as it is, `\r`
//! `\t` `\\` `\"` as escapes, every other byte (ESC, DEL, UTF-8 beyond ASCII) as `\xNN`.
//! Line feeds end lines. `--raw` skips all of this, for piping.

use crate::wire::text;
use std::fmt::Write as _;

/// Turns received chunks into tagged, escaped lines. It remembers whose line is still open
/// on the terminal (a chunk that did not end with a line feed), so a line that arrives in
/// several pieces stays one line, and another connection's bytes start a new one.
#[derive(Debug, Default)]
pub struct ChunkTagger {
    /// The connection whose last line has no line feed yet.
    open: Option<u32>,
}

impl ChunkTagger {
    pub fn new() -> ChunkTagger {
        ChunkTagger::default()
    }

    /// The text to print for `bytes` received on connection `conn`.
    pub fn render(&mut self, conn: u32, bytes: &[u8]) -> String {
        let mut s = String::new();
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            match self.open {
                Some(c) if c == conn => {} // the same line goes on
                Some(_) => {
                    s.push('\n');
                    let _ = write!(s, "[conn {conn}] ");
                }
                None => {
                    let _ = write!(s, "[conn {conn}] ");
                }
            }
            let (body, ended) = match line.strip_suffix(b"\n") {
                Some(b) => (b, true),
                None => (line, false),
            };
            text::push_escaped(&mut s, body);
            if ended {
                s.push('\n');
                self.open = None;
            } else {
                self.open = Some(conn);
            }
        }
        s
    }

    /// What to print when the connection ends (or netlab stops): a line feed if `conn`'s
    /// line is still open, so the next message starts on a line of its own.
    pub fn close(&mut self, conn: u32) -> &'static str {
        if self.open == Some(conn) {
            self.open = None;
            "\n"
        } else {
            ""
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_escape_is_shown_not_obeyed() {
        let shown = ChunkTagger::new().render(1, b"\x1b]0;pwned\x07hi\tt\xc3\xa9\n");
        assert_eq!(shown, "[conn 1] \\x1b]0;pwned\\x07hi\\tté\n");
        assert!(!shown.contains('\x1b') && !shown.contains('\x07'));
    }

    #[test]
    fn each_line_is_tagged_and_a_split_line_stays_one_line() {
        let mut t = ChunkTagger::new();
        assert_eq!(t.render(1, b"one\ntwo\n"), "[conn 1] one\n[conn 1] two\n");
        assert_eq!(t.render(1, b"hal"), "[conn 1] hal");
        assert_eq!(t.render(1, b"f\n"), "f\n");
        // conn 2 interrupts conn 1's open line: a new line, tagged.
        assert_eq!(t.render(1, b"par"), "[conn 1] par");
        assert_eq!(t.render(2, b"x\n"), "\n[conn 2] x\n");
        assert_eq!(t.render(1, b"t"), "[conn 1] t");
        assert_eq!(t.close(2), "");
        assert_eq!(t.close(1), "\n");
        assert_eq!(t.render(3, b""), "");
    }
}
