//! Prose wrapped to the reader's terminal: one wrapper for every paragraph netlab prints
//! (`netlab explain`, `netlab lab show` and `lab run`, the tour).
//!
//! Tables fit the terminal through comfy-table; this does the same for sentences. The
//! text is inline Markdown as the guides write it: a `code span` (a command, a field
//! name) never breaks across lines, so it can be copied whole, and punctuation stays on
//! the line of the word it follows. Widths are counted without colour.

use super::{Paint, Style};

/// Lines are wrapped to the terminal's width, or to this many columns in a pipe.
pub const DEFAULT_WIDTH: usize = 88;
/// Never wider than this, even on a wide terminal: long lines are hard to read.
pub const MAX_WIDTH: usize = 100;
/// The indent of a paragraph under a heading.
pub const INDENT: &str = "  ";

/// The width for prose: the terminal's (at least 40, at most [`MAX_WIDTH`]), or
/// [`DEFAULT_WIDTH`] in a pipe.
pub fn prose_width(style: &Style) -> usize {
    style
        .width
        .map_or(DEFAULT_WIDTH, usize::from)
        .clamp(40, MAX_WIDTH)
}

/// `text` wrapped to the terminal's width with `indent` before every line, painted; in a
/// pipe (no terminal width known) one line as written, for `grep` and graders.
pub fn fill_on_terminal(text: &str, style: &Style, indent: &'static str) -> String {
    if style.width.is_none() {
        return format!("{indent}{text}");
    }
    fill(text, style, indent)
}

/// `label text` as [`fill_on_terminal`] wraps it, the label painted with `paint`: the
/// label counts in the first line's width, so that line fits too.
pub fn fill_labelled(label: &str, paint: Paint, text: &str, style: &Style) -> String {
    let filled = fill_on_terminal(&format!("{label} {text}"), style, "");
    match filled.strip_prefix(label) {
        Some(rest) => format!("{}{rest}", style.paint(paint, label)),
        None => filled,
    }
}

/// `text` wrapped to [`prose_width`] with `indent` before every line, painted.
pub fn fill(text: &str, style: &Style, indent: &'static str) -> String {
    wrap(text, prose_width(style), indent)
        .iter()
        .map(|l| l.painted(style))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How a piece of field text is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prose,
    /// `code` (and commands): coloured, or kept in backticks without colour.
    Code,
    /// **bold**
    Strong,
}

/// An unbreakable piece of a line: a word, a code span, or punctuation glued to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    text: String,
    kind: Kind,
    /// No space before it (a comma after a code span).
    glued: bool,
}

/// Split inline Markdown (`code`, **bold**) into tokens.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut space_before = true;
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let code = part.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push(Token {
                text: code,
                kind: Kind::Code,
                glued: !space_before,
            });
            space_before = false;
            continue;
        }
        for (j, piece) in part.split("**").enumerate() {
            let kind = if j % 2 == 1 {
                Kind::Strong
            } else {
                Kind::Prose
            };
            let mut first = true;
            for word in piece.split_whitespace() {
                let leading_space = piece.starts_with(char::is_whitespace);
                let glued = first && !space_before && !leading_space;
                out.push(Token {
                    text: word.to_owned(),
                    kind,
                    glued,
                });
                first = false;
            }
            if !piece.is_empty() {
                space_before = piece.ends_with(char::is_whitespace);
            }
        }
    }
    if let Some(t) = out.first_mut() {
        t.glued = false;
    }
    out
}

/// One wrapped line: its tokens, and the indent before them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    indent: &'static str,
    tokens: Vec<Token>,
    plain: String,
}

impl Line {
    /// Without colour: code in backticks, bold as plain text.
    pub fn plain(&self) -> &str {
        &self.plain
    }

    pub fn painted(&self, style: &Style) -> String {
        if !style.color {
            return self.plain.clone();
        }
        let mut s = String::from(self.indent);
        for (i, t) in self.tokens.iter().enumerate() {
            if i > 0 && !t.glued {
                s.push(' ');
            }
            match t.kind {
                Kind::Prose => s.push_str(&t.text),
                Kind::Code => s.push_str(&style.paint(Paint::Client, &t.text)),
                Kind::Strong => s.push_str(&style.paint(Paint::Bold, &t.text)),
            }
        }
        s
    }
}

fn shown(t: &Token) -> String {
    match t.kind {
        Kind::Code => format!("`{}`", t.text),
        _ => t.text.clone(),
    }
}

/// Wrap inline Markdown to `width` columns (counted without colour), never breaking a code
/// span or separating punctuation from the word it follows. A group longer than the width
/// gets a line of its own.
pub fn wrap(text: &str, width: usize, indent: &'static str) -> Vec<Line> {
    // Groups of glued tokens move between lines together.
    let mut groups: Vec<Vec<Token>> = Vec::new();
    for t in tokens(text) {
        match groups.last_mut() {
            Some(g) if t.glued => g.push(t),
            _ => groups.push(vec![t]),
        }
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut cur: Vec<Token> = Vec::new();
    let mut cur_len = indent.chars().count();
    for g in groups {
        let g_len: usize = g.iter().map(|t| shown(t).chars().count()).sum();
        let gap = usize::from(!cur.is_empty());
        if !cur.is_empty() && cur_len + gap + g_len > width {
            lines.push(finish_line(indent, std::mem::take(&mut cur)));
            cur_len = indent.chars().count();
        }
        cur_len += usize::from(!cur.is_empty()) + g_len;
        let mut g = g;
        if let Some(first) = g.first_mut() {
            first.glued = false;
        }
        cur.extend(g);
    }
    if !cur.is_empty() {
        lines.push(finish_line(indent, cur));
    }
    lines
}

fn finish_line(indent: &'static str, tokens: Vec<Token>) -> Line {
    let mut plain = String::from(indent);
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && !t.glued {
            plain.push(' ');
        }
        plain.push_str(&shown(t));
    }
    Line {
        indent,
        tokens,
        plain,
    }
}
