//! How the demo reads on a terminal: numbered steps (why, what travelled, what it shows),
//! the cheatsheet as a table of who received each line, then the last steps.

use super::cheatsheet::{Cheatsheet, Op, LINES};
use super::{Carrier, DemoReport, Side, Step};
use crate::output::wrap::fill;
use crate::output::{Paint, Render, Style};

impl Render for DemoReport {
    fn render_human(&self, style: &Style) -> String {
        let mut s = format!(
            "{}\n",
            style.paint(
                Paint::Bold,
                format!(
                    "Socket.IO demo: netlab servers and clients in this process, on {}",
                    self.url
                )
            )
        );
        let mut n = 0;
        for step in &self.steps {
            n += 1;
            s.push_str(&render_step(n, step, style));
        }
        n += 1;
        s.push_str(&render_cheatsheet(n, &self.cheatsheet, style));
        for step in &self.later {
            n += 1;
            s.push_str(&render_step(n, step, style));
        }
        s
    }
}

pub fn render_step(n: usize, step: &Step, style: &Style) -> String {
    let mut s = format!(
        "\n{}\n{}\n",
        style.paint(Paint::Bold, format!("{n}. {}", step.title)),
        fill(step.why, style, "   ")
    );
    for w in &step.wire {
        let (arrow, paint) = match w.from {
            Side::Client => ("client → server", Paint::Client),
            Side::Server => ("server → client", Paint::Server),
        };
        let carrier = match w.carrier {
            Carrier::HttpPost => "POST body ",
            Carrier::HttpGet => "GET answer",
            Carrier::WebSocket => "WS frame  ",
        };
        s.push_str(&format!(
            "     {} {} {} {}\n",
            style.paint(paint, arrow),
            style.paint(Paint::Dim, carrier),
            w.text,
            style.paint(Paint::Dim, format!("({} B)", w.bytes))
        ));
    }
    for saw in &step.saw {
        s.push_str(&style.paint(Paint::Good, fill(&format!("⇒ {saw}"), style, "   ")));
        s.push('\n');
    }
    s
}

pub fn render_cheatsheet(n: usize, c: &Cheatsheet, style: &Style) -> String {
    let mut s = format!(
        "\n{}\n{}\n",
        style.paint(
            Paint::Bold,
            format!("{n}. The emit cheatsheet, line by line")
        ),
        fill(
            "Six clients: A to E in `/`, in the rooms shown, F in `/admin`. Client A sends \
             `line i`; the server runs line i with `socket` = A's socket, then tells every \
             client the line is over. A mark means the client received the line's event.",
            style,
            "   "
        )
    );
    let mut t = style.table();
    let mut head = vec!["line (socket is A)".to_owned()];
    for m in &c.members {
        let where_ = if m.namespace == "/" {
            m.rooms.join(" ")
        } else {
            m.namespace.to_owned()
        };
        head.push(format!("{} {where_}", m.name));
    }
    head.push("answers".into());
    t.set_header(head);
    for row in &c.rows {
        let mut cells = vec![row.code.to_owned()];
        for m in &c.members {
            let mark = if row.received_by.contains(&m.name) {
                "✓"
            } else {
                "·"
            };
            cells.push(mark.to_owned());
        }
        let note = match (&row.answers, row.received_by.is_empty()) {
            (Some(a), _) => format!("{} ({})", a.len(), a.join(" ")),
            (None, true) => "nobody".to_owned(),
            (None, false) => String::new(),
        };
        cells.push(note);
        t.add_row(cells);
    }
    s.push_str(&format!("{t}\n"));
    for note in findings(c) {
        s.push_str(&style.paint(Paint::Good, fill(&format!("⇒ {note}"), style, "   ")));
        s.push('\n');
    }
    s
}

/// What the table shows, from its rows.
pub fn findings(c: &Cheatsheet) -> Vec<String> {
    let row = |op: Op| {
        LINES
            .iter()
            .position(|l| l.op == op)
            .and_then(|i| c.rows.get(i))
    };
    let mut notes = Vec::new();
    if let Some(to_self) = row(Op::ToSelf) {
        notes.push(format!(
            "socket.to(socket.id) reached {}: socket.to(room) leaves out the sender, and the \
             room named by a socket's id holds only that socket",
            names(&to_self.received_by)
        ));
    }
    if let (Some(local), Some(all)) = (row(Op::IoLocalEmit), row(Op::IoEmit)) {
        let same = if local.received_by == all.received_by {
            "the same clients as"
        } else {
            "other clients than"
        };
        notes.push(format!(
            "io.local.emit reached {same} io.emit ({}): this server is a single node, so \
             everything is local",
            names(&local.received_by)
        ));
    }
    notes
}

fn names(v: &[&str]) -> String {
    if v.is_empty() {
        "nobody".into()
    } else {
        v.join(" ")
    }
}
