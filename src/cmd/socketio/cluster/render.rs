//! How the cluster reads on a terminal: the nodes and Redis, the sticky-session table (one
//! row per policy, one column per client), a failing client's requests, the broadcast
//! table, and what the tables show.

use super::across::Across;
use super::kill::Killed;
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
        s.push_str(&render_across(&self.across, self.adapter, style));
        match &self.killed {
            Some(k) => s.push_str(&render_killed(k, style)),
            None => s.push_str(&fill(
                "\n3. A node killed: left out, the nodes have no adapter to carry a stream \
                 from one node to the others.",
                style,
                "   ",
            )),
        }
        s.push('\n');
        for f in &self.findings {
            s.push_str(&style.paint(Paint::Good, fill(&format!("⇒ {f}"), style, "   ")));
            s.push('\n');
        }
        s
    }
}

fn redis_line(r: &RedisState) -> String {
    let adapter = if r.usable_url().is_some() {
        "The nodes share broadcasts through it: the Redis adapter (publish/subscribe)."
    } else {
        "The nodes run WITHOUT an adapter: each knows only its own sockets, and no \
         broadcast goes from one node to another."
    };
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

fn render_across(a: &Across, adapter: &str, style: &Style) -> String {
    let through = if adapter == "redis" {
        "the nodes share the Redis adapter"
    } else {
        "the nodes have no adapter"
    };
    let mut s = format!(
        "\n{}\n{}\n",
        style.paint(Paint::Bold, "2. The emit cheatsheet across nodes"),
        fill(
            &format!(
                "Six WebSocket clients spread over the nodes ({through}). Client A asks its \
                 node to run each line as `socket`; every client listens {} ms after the \
                 node acknowledged ({} ms for an emit with ack), and answers with its name \
                 when asked. A mark means the client received the line.",
                a.listened_ms, a.ack_listened_ms
            ),
            style,
            "   "
        )
    );
    let mut t = style.table();
    let mut head = vec!["line (run on A's node)".to_owned()];
    head.extend(a.members.iter().map(|m| {
        let rooms = if m.namespace == "/" {
            m.rooms.join(" ")
        } else {
            m.namespace.clone()
        };
        format!("{} on {}\n{rooms}", m.name, m.node)
    }));
    t.set_header(head);
    for row in &a.rows {
        let mut code = row.code.clone();
        if let Some(answers) = &row.answers {
            code.push_str(&format!("\n  answers from: {}", answers.join(" ")));
        }
        let mut cells = vec![code];
        for m in &a.members {
            let got = row.received_by.contains(&m.name);
            cells.push(if got { "✓" } else { "·" }.to_owned());
        }
        t.add_row(cells);
    }
    s.push_str(&format!("{t}\n"));
    s
}

fn render_killed(k: &Killed, style: &Style) -> String {
    let mut s = format!(
        "\n{}\n{}\n",
        style.paint(Paint::Bold, "3. A node killed during a broadcast stream"),
        fill(
            &format!(
                "Fresh nodes on the same Redis, the six clients in `/` spread over them, and \
                 n1 running io.emit(\"tick\", K) for K = 1 to {}, one every {} ms. After tick \
                 {} the last node dies: its runtime goes, its TCP connections drop without a \
                 goodbye. Its clients wait {} ms and connect to the next node, bringing their \
                 session id and last offset when recovery is on.",
                k.ticks, k.gap_ms, k.killed_after_tick, k.reconnect_after_ms
            ),
            style,
            "   "
        )
    );
    let mut t = style.table();
    t.set_header(vec![
        "recovery".to_owned(),
        "client".to_owned(),
        "node".to_owned(),
        "connection".to_owned(),
        "recovered".to_owned(),
        "received".to_owned(),
        "missed".to_owned(),
    ]);
    for run in &k.runs {
        for c in &run.clients {
            let node = match &c.node_after {
                Some(after) => format!("{} → {after}", c.node_before),
                None => c.node_before.clone(),
            };
            let recovered = match c.recovered {
                Some(r) => r.to_string(),
                None => "·".to_owned(),
            };
            t.add_row(vec![
                if run.recovery { "on" } else { "off" }.to_owned(),
                c.name.clone(),
                node,
                c.dropped.clone().unwrap_or_else(|| "kept".to_owned()),
                recovered,
                format!("{}/{}", c.received, k.ticks),
                ranges(&c.missed),
            ]);
        }
    }
    s.push_str(&format!("{t}\n"));
    s
}

/// `[3, 4, 5, 9]` → `3–5, 9`; nothing → `·`.
pub fn ranges(v: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut k = 0;
    while k < v.len() {
        let mut j = k;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if j == k {
            v[k].to_string()
        } else {
            format!("{}–{}", v[k], v[j])
        });
        k = j + 1;
    }
    if parts.is_empty() {
        "·".to_owned()
    } else {
        parts.join(", ")
    }
}

/// What the tables show, from their contents.
pub fn findings(
    trials: &[Trial],
    across: &Across,
    adapter: &str,
    killed: Option<&Killed>,
) -> Vec<String> {
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
    notes.extend(across_findings(across, adapter));
    if let Some(k) = killed {
        notes.extend(killed_findings(k));
    }
    notes
}

/// What the cheatsheet's table shows about `io.emit` and `io.local.emit`.
fn across_findings(across: &Across, adapter: &str) -> Vec<String> {
    let mut notes = Vec::new();
    for row in &across.rows {
        if !row.code.starts_with("io.emit") && !row.code.starts_with("io.local.emit") {
            continue;
        }
        let on_sender: Vec<&str> = across
            .members
            .iter()
            .filter(|m| m.node == row.sender_node && m.namespace == "/")
            .map(|m| m.name.as_str())
            .collect();
        let only_local = row.received_by.iter().map(String::as_str).eq(on_sender);
        let whom = if row.received_by.is_empty() {
            "nobody".to_owned()
        } else {
            row.received_by.join(" ")
        };
        let verdict = match (only_local, adapter) {
            (true, "redis") => format!(
                "only the clients of {}: `local` keeps it on the sender's node",
                row.sender_node
            ),
            (true, _) => format!(
                "only the clients of {}: without an adapter a node knows only its own sockets",
                row.sender_node
            ),
            (false, _) => "clients of other nodes too: the nodes share broadcasts".to_owned(),
        };
        notes.push(format!("{} reached {whom}, {verdict}", row.code));
    }
    notes
}

/// What the stream's table shows.
fn killed_findings(k: &Killed) -> Vec<String> {
    let mut notes = Vec::new();
    for run in &k.runs {
        let moved: Vec<_> = run
            .clients
            .iter()
            .filter(|c| c.node_after.is_some())
            .collect();
        let kept_all = run
            .clients
            .iter()
            .filter(|c| c.node_after.is_none())
            .all(|c| c.missed.is_empty());
        let missed: Vec<String> = moved
            .iter()
            .map(|c| format!("{} {}", c.name, c.missed.len()))
            .collect();
        let recovered = moved.iter().filter(|c| c.recovered == Some(true)).count();
        let mut note = format!(
            "recovery {}: {} killed; the clients of the other nodes {}; its clients moved \
             and missed ticks ({})",
            if run.recovery { "on" } else { "off" },
            run.killed,
            if kept_all {
                "missed nothing"
            } else {
                "missed some"
            },
            missed.join(", ")
        );
        if run.recovery {
            note.push_str(&format!(
                "; {recovered} of {} recovered: the sessions and missed events were kept in \
                 the memory of the node that died, so the next node answered \
                 `recovered: false` (a persistent adapter, Redis Streams, would keep them \
                 for every node)",
                moved.len()
            ));
        }
        notes.push(note);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn missed_ticks_read_as_ranges() {
        assert_eq!(ranges(&[]), "·");
        assert_eq!(ranges(&[3]), "3");
        assert_eq!(ranges(&[3, 4, 5, 9, 11, 12]), "3–5, 9, 11–12");
    }
}
