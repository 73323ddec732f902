//! Client/server sequence diagrams: a timeline of events drawn as two lifelines with
//! arrows between them, the way textbooks draw a TCP handshake.
//!
//! ```text
//!   t (ms)  client                      server
//!    0.000  write 5 B     │ ──── 5 B ───────────► │
//!    0.140                │                       │ read → 10 B
//! ```

use super::style::{visible_width, Paint, Style};
use crate::wire::Role;
use serde::Serialize;

/// One event on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Microseconds since the timeline's start, if the event was timed.
    pub at_us: Option<u64>,
    /// Where the event happened.
    pub side: Role,
    /// What happened there, e.g. `write(5 B)` or `read → 10 B`.
    pub action: String,
    /// What crossed to the other side, if anything (drawn as an arrow), e.g. `SYN`.
    pub sends: Option<String>,
}

impl Step {
    pub fn local(at_us: Option<u64>, side: Role, action: impl Into<String>) -> Step {
        Step {
            at_us,
            side,
            action: action.into(),
            sends: None,
        }
    }

    pub fn send(
        at_us: Option<u64>,
        side: Role,
        action: impl Into<String>,
        sends: impl Into<String>,
    ) -> Step {
        Step {
            at_us,
            side,
            action: action.into(),
            sends: Some(sends.into()),
        }
    }
}

/// A timeline between a client and a server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub steps: Vec<Step>,
}

impl Timeline {
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Draw the timeline. Client actions sit left of the client's lifeline, server
    /// actions right of the server's; what crosses the network is an arrow between them.
    pub fn render(&self, style: &Style) -> String {
        let left_w = self
            .steps
            .iter()
            .filter(|s| s.side == Role::Client)
            .map(|s| clip(&s.action).chars().count())
            .max()
            .unwrap_or(0)
            .max("client".len());
        let mid_w = self
            .steps
            .iter()
            .filter_map(|s| s.sends.as_deref())
            .map(|s| s.chars().count() + 8)
            .max()
            .unwrap_or(0)
            .max(16);
        let glyphs = Glyphs::new(style);

        let mut out = String::new();
        let header = format!(
            "{:>9}  {:<left_w$} {} {:mid_w$} {} {}",
            "t (ms)",
            style.paint(Paint::Client, "client"),
            " ",
            "",
            " ",
            style.paint(Paint::Server, "server"),
            left_w = left_w + style.paint(Paint::Client, "client").len() - "client".len(),
        );
        out.push_str(header.trim_end());
        out.push('\n');
        for step in &self.steps {
            let line = step_line(step, style, &glyphs, left_w, mid_w);
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The longest action drawn beside a lifeline; longer ones end in `…`.
const MAX_ACTION: usize = 34;

fn clip(s: &str) -> String {
    if s.chars().count() > MAX_ACTION {
        let mut c: String = s.chars().take(MAX_ACTION - 1).collect();
        c.push('…');
        c
    } else {
        s.to_owned()
    }
}

/// The characters lifelines and arrows are drawn with: box drawing, or ASCII when the
/// terminal cannot show it.
struct Glyphs {
    bar: &'static str,
    dash: &'static str,
    head_r: &'static str,
    head_l: &'static str,
}

impl Glyphs {
    fn new(style: &Style) -> Glyphs {
        let (bar, dash, head_r, head_l) = if style.unicode {
            ("│", "─", "►", "◄")
        } else {
            ("|", "-", ">", "<")
        };
        Glyphs {
            bar,
            dash,
            head_r,
            head_l,
        }
    }
}

/// One row: the time, the action beside its side's lifeline, and the arrow (or blank)
/// between the lifelines.
fn step_line(step: &Step, style: &Style, g: &Glyphs, left_w: usize, mid_w: usize) -> String {
    let t = match step.at_us {
        Some(us) => format!("{:>9.3}", us as f64 / 1000.0),
        None => " ".repeat(9),
    };
    let action = clip(&step.action);
    let (left, right) = match step.side {
        Role::Client => (style.paint(Paint::Client, &action), String::new()),
        Role::Server => (String::new(), style.paint(Paint::Server, &action)),
    };
    let middle = match &step.sends {
        None => " ".repeat(mid_w),
        Some(label) => arrow(label, step.side, g, mid_w),
    };
    let pad = left_w.saturating_sub(visible_width(&left));
    let bar = g.bar;
    format!(
        "{t}  {left}{} {bar} {middle} {bar} {right}",
        " ".repeat(pad)
    )
}

/// An arrow `mid_w` wide from the sender's lifeline to the receiver's, its label near
/// the sender.
fn arrow(label: &str, from: Role, g: &Glyphs, mid_w: usize) -> String {
    let dash = g.dash;
    let label = format!(" {label} ");
    let fill = mid_w.saturating_sub(label.chars().count() + 1);
    let lead = fill.min(3);
    let trail = fill - lead;
    match from {
        Role::Client => format!(
            "{}{}{}{}",
            dash.repeat(lead),
            label,
            dash.repeat(trail),
            g.head_r
        ),
        Role::Server => format!(
            "{}{}{}{}",
            g.head_l,
            dash.repeat(trail),
            label,
            dash.repeat(lead)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_point_from_sender_to_receiver() {
        let mut t = Timeline::default();
        t.push(Step::send(Some(0), Role::Client, "write(5 B)", "5 B"));
        t.push(Step::local(Some(1500), Role::Server, "read → 5 B"));
        t.push(Step::send(None, Role::Server, "close()", "FIN"));
        let text = t.render(&Style::plain());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[1].starts_with("    0.000  write(5 B)"), "{text}");
        assert!(
            lines[1].contains("─── 5 B ") && lines[1].ends_with("► │"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("    1.500") && lines[2].ends_with("│ read → 5 B"),
            "{text}"
        );
        assert!(
            lines[3].contains("◄") && lines[3].contains(" FIN ") && lines[3].ends_with("close()"),
            "{text}"
        );
        // Lifelines line up on every row.
        let bars: Vec<usize> = lines[1..]
            .iter()
            .map(|l| l.chars().position(|c| c == '│').unwrap())
            .collect();
        assert!(bars.windows(2).all(|w| w[0] == w[1]), "{text}");
    }

    #[test]
    fn ascii_mode_has_no_unicode() {
        let mut t = Timeline::default();
        t.push(Step::send(Some(0), Role::Client, "connect()", "SYN"));
        let style = Style {
            unicode: false,
            ..Style::plain()
        };
        assert!(t.render(&style).is_ascii());
    }
}
