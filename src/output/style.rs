//! Presentation knobs decided once (colour, width) and the few paints netlab uses.

use comfy_table::{presets, ContentArrangement, Table};

/// What a piece of text means, so colour can say it. Output must read fine without colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// The client side of a conversation.
    Client,
    /// The server side of a conversation.
    Server,
    /// Headings and names.
    Bold,
    /// Secondary detail: timestamps, explanations.
    Dim,
    /// Something went as it should.
    Good,
    /// Something failed or was lost.
    Bad,
    /// Worth a second look (a reset, a truncation).
    Warn,
}

impl Paint {
    const fn ansi(self) -> &'static str {
        match self {
            Paint::Client => "36", // cyan
            Paint::Server => "35", // magenta
            Paint::Bold => "1",    // bold
            Paint::Dim => "2",     // faint
            Paint::Good => "32",   // green
            Paint::Bad => "1;31",  // bold red
            Paint::Warn => "33",   // yellow
        }
    }
}

/// How to present: decided once in `app` from `--color`, `NO_COLOR` and whether the
/// stream is a terminal, then passed to every renderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
    /// Box-drawing characters and arrows; off gives plain ASCII.
    pub unicode: bool,
    /// Table width in columns; `None` lets tables be as wide as their content.
    pub width: Option<u16>,
}

impl Style {
    /// No colour, Unicode, unlimited width: what tests and pipes get.
    pub fn plain() -> Style {
        Style {
            color: false,
            unicode: true,
            width: None,
        }
    }

    /// Wrap `text` in the paint's colour, or return it unchanged when colour is off.
    pub fn paint(&self, paint: Paint, text: impl AsRef<str>) -> String {
        let text = text.as_ref();
        if self.color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", paint.ansi())
        } else {
            text.to_owned()
        }
    }

    /// A comfy-table in netlab's house style (comfy-table 8: `load_style`).
    pub fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_style(if self.unicode {
            presets::UTF8_FULL_CONDENSED
        } else {
            presets::ASCII_FULL_CONDENSED
        });
        match self.width {
            Some(w) => {
                t.set_content_arrangement(ContentArrangement::Dynamic);
                t.set_width(w);
            }
            None => {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        // Colour inside cells is ours (ANSI in the strings); comfy-table must not
        // guess from the terminal, or piped output would differ from a tty's.
        t.force_no_tty();
        t
    }

    /// `→` or `->`, depending on `unicode`.
    pub fn arrow(&self) -> &'static str {
        if self.unicode {
            "→"
        } else {
            "->"
        }
    }
}

/// The visible width of a string: characters, not counting ANSI colour sequences.
pub fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_is_identity_without_colour() {
        assert_eq!(Style::plain().paint(Paint::Bad, "x"), "x");
        let coloured = Style {
            color: true,
            ..Style::plain()
        };
        assert_eq!(coloured.paint(Paint::Bad, "x"), "\x1b[1;31mx\x1b[0m");
        assert_eq!(visible_width(&coloured.paint(Paint::Bad, "héllo")), 5);
    }
}
