//! How the cluster reads on a terminal: the nodes and Redis, the sticky-session table (one
//! row per policy, one column per client), a failing client's requests, the broadcast
//! table, and what the tables show.

use super::across::Across;
use super::redis::RedisState;
use super::sticky::{Outcome, Trial};
use super::ClusterReport;
use crate::net::balancer::Policy;
use crate::output::wrap::fill;
use crate::output::{Paint, Render, Style};

impl Render for ClusterReport {
    fn render_human(&self, style: &Style) -> String {
        let names: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{} {}", n.name, n.url))
            .collect();
        let mut s = format!(
            "{}\n{}\n",
            style.paint(
                Paint::Bold,
                format!(
                    "Socket.IO cluster: {} netlab nodes in this process",
                    self.nodes.len()
                )
            ),
            fill(&names.join(", "), style, "   ")
        );
        s.push_str(&fill(&redis_line(&self.redis), style, "   "));
        s.push('\n');
        s.push_str(&render_sticky(&self.sticky, style));
        s.push_str(&render_across(&self.across, style));
        s.push('\n');
        for f in &self.findings {
            s.push_str(&style.paint(Paint::Good, fill(&format!("⇒ {f}"), style, "   ")));
            s.push('\n');
        }
        s
    }
}

fn redis_line(r: &RedisState) -> String {
    let adapter = "The nodes run without an adapter: each knows only its own sockets, and \
                   no broadcast goes from one node to another.";
    match r {
        RedisState::Given { url, answered_ping } => {
            format!(
                "Redis: {url} (given), {}. {adapter}",
                ping_word(*answered_ping)
            )
        }
        RedisState::Started { url, answered_ping } => format!(
            "Redis: a private redis-server on {url}, {}. {adapter}",
            ping_word(*answered_ping)
        ),
        RedisState::Missing { install } => format!(
            "Redis: none given and redis-server is not installed ({install} installs it). \
             {adapter}"
        ),
    }
}

fn ping_word(answered: bool) -> &'static str {
    if answered {
        "answering PING"
    } else {
        "NOT answering PING"
    }
}

fn cell(o: &Outcome) -> String {
    match (&o.node, o.ok) {
        (Some(node), true) => format!("✓ {node}"),
        _ => match o.requests.last() {
            Some(r) if r.status != 200 => format!("✗ {} {}", r.method, r.status),
            _ => "✗".to_owned(),
        },
    }
}

fn render_sticky(trials: &[Trial], style: &Style) -> String {
    let balancer = trials.first().map_or("netlab", |t| t.balancer.as_str());
    let mut s = format!(
        "\n{}\n{}\n",
        style.paint(
            Paint::Bold,
            format!("1. Sticky sessions, through {balancer}'s balancer")
        ),
        fill(
            "A to D long-poll: every request on a TCP connection of its own, each client \
             from an address of its own. E and F use a WebSocket: one request, the upgrade, \
             and one TCP connection kept open. Each client joins `/` and asks its node \
             `where`. A cell shows the node that answered, or the request that was refused.",
            style,
            "   "
        )
    );
    let mut t = style.table();
    let mut head = vec!["policy".to_owned()];
    if let Some(first) = trials.first() {
        for c in &first.clients {
            head.push(format!("{} {}\n{}", c.client, c.transport, c.from));
        }
    }
    t.set_header(head);
    for trial in trials {
        let mut row = vec![trial.policy.as_str().to_owned()];
        row.extend(trial.clients.iter().map(cell));
        t.add_row(row);
    }
    s.push_str(&format!("{t}\n"));
    let refused = trials
        .iter()
        .flat_map(|t| t.clients.iter().map(move |c| (t.policy, c)))
        .find(|(_, c)| !c.ok && !c.requests.is_empty());
    if let Some((policy, c)) = refused {
        s.push_str(&format!(
            "   client {} under {}, request by request:\n",
            c.client,
            policy.as_str()
        ));
        for r in &c.requests {
            let paint = if r.status == 200 {
                Paint::Dim
            } else {
                Paint::Bad
            };
            s.push_str(&style.paint(
                paint,
                format!(
                    "     {} ({}) → {} {}\n",
                    r.method,
                    r.purpose,
                    r.status,
                    short(&r.body)
                ),
            ));
        }
    }
    s
}

/// A body as one short line.
fn short(body: &str) -> String {
    let one: String = body
        .chars()
        .map(|c| if c.is_control() { '·' } else { c })
        .take(90)
        .collect();
    if body.chars().count() > 90 {
        format!("{one}…")
    } else {
        one
    }
}

fn render_across(a: &Across, style: &Style) -> String {
    let mut s = format!(
        "\n{}\n{}\n",
        style.paint(Paint::Bold, "2. Broadcasts across nodes"),
        fill(
            &format!(
                "Six WebSocket clients, spread over the nodes. Client A asks its node to run \
                 each line; every client listens {} ms after the node acknowledged. A mark \
                 means the client received the line.",
                a.listened_ms
            ),
            style,
            "   "
        )
    );
    let mut t = style.table();
    let mut head = vec!["line (on A's node)".to_owned()];
    head.extend(
        a.members
            .iter()
            .map(|m| format!("{} on {}", m.name, m.node)),
    );
    t.set_header(head);
    for row in &a.rows {
        let mut cells = vec![row.code.clone()];
        for m in &a.members {
            let got = row.received_by.contains(&m.name);
            cells.push(if got { "✓" } else { "·" }.to_owned());
        }
        t.add_row(cells);
    }
    s.push_str(&format!("{t}\n"));
    s
}

/// What the tables show, from their contents.
pub fn findings(trials: &[Trial], across: &Across) -> Vec<String> {
    let mut notes = Vec::new();
    for t in trials {
        let (p_ok, p_all) = t.polling_ok();
        let (w_ok, w_all) = t.websocket_ok();
        let mut note = format!(
            "{} ({}): {p_ok} of {p_all} polling clients and {w_ok} of {w_all} WebSocket \
             clients got through",
            t.policy.as_str(),
            t.balancer
        );
        let refusal = t
            .clients
            .iter()
            .filter_map(|c| c.requests.last())
            .find(|r| r.status != 200);
        if let Some(r) = refusal {
            note.push_str(&format!(
                "; a {} ({}) reached a node that never saw the session: {} {}",
                r.method, r.purpose, r.status, r.body
            ));
        }
        if t.policy == Policy::Cookie && p_ok > 0 {
            note.push_str(
                "; the first answer set the cookie naming the node, the rest followed it",
            );
        }
        notes.push(note);
    }
    for row in &across.rows {
        let on_sender: Vec<&str> = across
            .members
            .iter()
            .filter(|m| m.node == row.sender_node)
            .map(|m| m.name.as_str())
            .collect();
        let only_local = row.received_by.iter().map(String::as_str).eq(on_sender);
        let whom = if row.received_by.is_empty() {
            "nobody".to_owned()
        } else {
            row.received_by.join(" ")
        };
        let verdict = if only_local {
            format!(
                "only the clients of {}: without an adapter a node knows only its own sockets",
                row.sender_node
            )
        } else {
            "clients of other nodes too: the nodes share broadcasts".to_owned()
        };
        notes.push(format!("{} reached {whom}, {verdict}", row.code));
    }
    notes
}
