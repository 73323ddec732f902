//! `netlab explain TERM` and `netlab explain --list`: the entries of `docs/vocabulary.md`
//! (built into the binary, parsed by [`crate::vocabulary`]), with a protocol's placement
//! read from [`crate::layers`], so neither text is written twice.

use crate::cli::explain::ExplainArgs;
use crate::error::{usage, Hinted};
use crate::layers::Protocol;
use crate::output::wrap::{prose_width as width, wrap, INDENT};
use crate::output::{Output, Paint, Render, Style};
use crate::vocabulary::{normalize, Entry, Lookup, Vocabulary};
use serde::Serialize;

/// A term longer than this is not a term (and would make edit distances slow).
pub const MAX_QUERY_CHARS: usize = 100;

/// What to do, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Print the entry for this term (or suggest close ones).
    Term(String),
    /// List every term.
    List,
}

impl TryFrom<ExplainArgs> for Plan {
    type Error = anyhow::Error;

    fn try_from(args: ExplainArgs) -> anyhow::Result<Plan> {
        if args.list {
            return Ok(Plan::List);
        }
        let term = args.term.join(" ").trim().to_owned();
        if term.is_empty() {
            return Err(usage(
                "no term to explain",
                "name one, for example `netlab explain socket`, or list them all with \
                 `netlab explain --list`",
            ));
        }
        if term.chars().count() > MAX_QUERY_CHARS {
            return Err(usage(
                format!("a term of more than {MAX_QUERY_CHARS} characters"),
                "name one term, for example `netlab explain tcp handshake`",
            ));
        }
        Ok(Plan::Term(term))
    }
}

/// Where a protocol sits, from `layers.rs` (only for entries that name a [`Protocol`]).
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub protocol: Protocol,
    pub osi_number: u8,
    pub osi: &'static str,
    pub tcpip: &'static str,
    pub hybrid: &'static str,
    pub pdu: &'static str,
    pub standard: &'static str,
    pub note: Option<&'static str>,
}

/// One entry, as `netlab explain TERM` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainReport {
    /// What was asked, as typed.
    pub query: String,
    #[serde(flatten)]
    pub entry: Entry,
    pub placement: Option<Placement>,
}

/// One line of `netlab explain --list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    pub term: String,
    pub aliases: Vec<String>,
}

/// `netlab explain --list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub count: usize,
    pub terms: Vec<ListItem>,
}

/// The vocabulary built into this binary. It cannot fail for a binary whose tests passed;
/// if it does, say so instead of panicking.
pub fn vocabulary() -> anyhow::Result<Vocabulary> {
    Vocabulary::embedded().map_err(|e| {
        anyhow::Error::new(e).context(
            Hinted::failure("the vocabulary built into this netlab is malformed").with_hint(
                "this is a bug in docs/vocabulary.md; `cargo test vocabulary` names the line",
            ),
        )
    })
}

/// Look `query` up: the entry, or a usage error with suggestions as its hint.
pub fn explain(vocab: &Vocabulary, query: &str) -> anyhow::Result<ExplainReport> {
    match vocab.lookup(query) {
        Lookup::Found(entry) => Ok(ExplainReport {
            query: query.to_owned(),
            entry: entry.clone(),
            placement: placement(entry),
        }),
        Lookup::Suggestions(close) => {
            let names: Vec<&str> = close.iter().map(|e| e.term.as_str()).collect();
            Err(usage(
                format!("no entry for \"{query}\" in the vocabulary"),
                format!(
                    "did you mean: {}? (`netlab explain --list` lists every term)",
                    names.join(", ")
                ),
            ))
        }
        Lookup::Nothing => Err(usage(
            format!("no entry for \"{query}\" in the vocabulary, and nothing close"),
            "`netlab explain --list` lists every term and its other names",
        )),
    }
}

/// Every term, in the document's order.
pub fn list(vocab: &Vocabulary) -> ListReport {
    let terms: Vec<ListItem> = vocab
        .entries()
        .iter()
        .map(|e| ListItem {
            term: e.term.clone(),
            aliases: e.aliases.clone(),
        })
        .collect();
    ListReport {
        count: terms.len(),
        terms,
    }
}

/// The protocol an entry is about, if its term or an alias is a [`Protocol`]'s name.
pub fn protocol_of(entry: &Entry) -> Option<Protocol> {
    let names: Vec<String> = std::iter::once(&entry.term)
        .chain(&entry.aliases)
        .map(|n| normalize(n))
        .collect();
    Protocol::ALL
        .into_iter()
        .find(|p| names.contains(&normalize(p.name())))
}

fn placement(entry: &Entry) -> Option<Placement> {
    protocol_of(entry).map(|p| Placement {
        protocol: p,
        osi_number: p.osi().number(),
        osi: p.osi().name(),
        tcpip: p.tcpip().name(),
        hybrid: p.hybrid().name(),
        pdu: p.pdu(),
        standard: p.standard(),
        note: p.placement_note(),
    })
}

pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let vocab = vocabulary()?;
    match plan {
        Plan::List => out.report(&list(&vocab))?,
        Plan::Term(term) => out.report(&explain(&vocab, &term)?)?,
    }
    Ok(())
}

impl Render for ExplainReport {
    fn render_human(&self, style: &Style) -> String {
        let e = &self.entry;
        let w = width(style);
        let mut s = String::new();
        s.push_str(&style.paint(Paint::Bold, &e.term));
        s.push('\n');
        if !e.aliases.is_empty() {
            let also = format!("also: {}", e.aliases.join(", "));
            for line in wrap(&also, w, "") {
                s.push_str(&style.paint(Paint::Dim, line.plain()));
                s.push('\n');
            }
        }
        if let Some(p) = &self.placement {
            let layers = format!(
                "layers: OSI {} {} · TCP/IP (RFC 1122) {} · five-layer {}",
                p.osi_number, p.osi, p.tcpip, p.hybrid
            );
            let unit = format!("unit: {} · defined by {}", p.pdu, p.standard);
            for line in wrap(&layers, w, "").iter().chain(&wrap(&unit, w, "")) {
                s.push_str(&line.painted(style));
                s.push('\n');
            }
            if let Some(note) = p.note {
                for line in wrap(&format!("placement: {note}"), w, "") {
                    s.push_str(&style.paint(Paint::Dim, line.plain()));
                    s.push('\n');
                }
            }
        }
        let fields: [(&str, Option<&String>, Paint); 6] = [
            ("Definition", Some(&e.definition), Paint::Bold),
            ("Source", Some(&e.source), Paint::Bold),
            ("Related", Some(&e.related), Paint::Bold),
            ("Misconception", e.misconception.as_ref(), Paint::Warn),
            ("See it", Some(&e.see_it), Paint::Bold),
            ("In the code", Some(&e.in_the_code), Paint::Bold),
        ];
        for (label, text, paint) in fields {
            let Some(text) = text else { continue };
            s.push('\n');
            s.push_str(&style.paint(paint, label));
            s.push('\n');
            for line in wrap(text, w, INDENT) {
                s.push_str(&line.painted(style));
                s.push('\n');
            }
        }
        s.push('\n');
        s.push_str(&style.paint(
            Paint::Dim,
            "from docs/vocabulary.md (built in); `netlab explain --list` lists every term",
        ));
        s
    }
}

impl Render for ListReport {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(vec!["term", "also"]);
        let also_width = width(style).saturating_sub(30).max(30);
        for item in &self.terms {
            let also: Vec<String> = wrap(&item.aliases.join(", "), also_width, "")
                .iter()
                .map(|l| l.plain().to_owned())
                .collect();
            t.add_row(vec![
                style.paint(Paint::Bold, &item.term),
                style.paint(Paint::Dim, also.join("\n")),
            ]);
        }
        format!(
            "{} terms in docs/vocabulary.md; `netlab explain TERM` prints one\n{t}",
            self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::style::visible_width;

    fn vocab() -> Vocabulary {
        Vocabulary::embedded().unwrap()
    }

    #[test]
    fn plan_joins_words_and_rejects_nothing() {
        let args = |term: &[&str], list: bool| ExplainArgs {
            term: term.iter().map(|s| s.to_string()).collect(),
            list,
        };
        assert_eq!(
            Plan::try_from(args(&["long", "polling"], false)).unwrap(),
            Plan::Term("long polling".into())
        );
        assert_eq!(Plan::try_from(args(&[], true)).unwrap(), Plan::List);
        let err = Plan::try_from(args(&["  "], false)).unwrap_err();
        let r = crate::output::describe_fatal(&err).unwrap();
        assert_eq!(r.exit_code, 2);
        let long = "x".repeat(MAX_QUERY_CHARS + 1);
        assert!(Plan::try_from(args(&[&long], false)).is_err());
    }

    #[test]
    fn a_typo_is_a_usage_error_whose_hint_suggests() {
        let err = explain(&vocab(), "sokcet").unwrap_err();
        let r = crate::output::describe_fatal(&err).unwrap();
        assert_eq!(r.exit_code, 2);
        let hint = r.hint.unwrap();
        assert!(hint.starts_with("did you mean: Socket"), "{hint}");
        let err = explain(&vocab(), "qwertyuiop").unwrap_err();
        let r = crate::output::describe_fatal(&err).unwrap();
        assert_eq!(r.exit_code, 2);
        assert!(r.message.contains("nothing close"), "{}", r.message);
    }

    #[test]
    fn protocols_carry_their_placement_from_layers() {
        let r = explain(&vocab(), "tcp").unwrap();
        let p = r.placement.unwrap();
        assert_eq!(
            (p.protocol, p.osi_number, p.pdu),
            (Protocol::Tcp, 4, "segment")
        );
        assert!(explain(&vocab(), "socket").unwrap().placement.is_none());
    }

    #[test]
    fn wrapping_keeps_code_spans_whole_and_punctuation_glued() {
        let text = "Run `netlab capture --read labs/captures/tcp-handshake.pcap --count 3`, \
                    then **look** at the (relative) numbers.";
        for width in [20, 40, 60, 200] {
            let lines = wrap(text, width, "  ");
            let joined: Vec<&str> = lines.iter().map(|l| l.plain().trim()).collect();
            let joined = joined.join(" ");
            assert_eq!(
                joined,
                "Run `netlab capture --read labs/captures/tcp-handshake.pcap --count 3`, \
                 then look at the (relative) numbers."
            );
            for l in &lines {
                let long_span = l.plain().contains("`netlab");
                assert!(
                    long_span || l.plain().chars().count() <= width,
                    "{width}: {l:?}"
                );
            }
        }
        let coloured = Style {
            color: true,
            ..Style::plain()
        };
        let line = &wrap("a `b`, c", 80, "")[0];
        assert_eq!(visible_width(&line.painted(&coloured)), "a b, c".len());
    }

    #[test]
    fn human_rendering_shows_every_field_within_the_width() {
        let style = Style {
            width: Some(72),
            ..Style::plain()
        };
        for e in vocab().entries() {
            let r = explain(&vocab(), &e.term).unwrap();
            let text = r.render_human(&style);
            for label in ["Definition", "Source", "Related", "See it", "In the code"] {
                assert!(
                    text.contains(&format!("\n{label}\n")),
                    "{}: {label}",
                    e.term
                );
            }
            for line in text.lines() {
                // Only an unbreakable code span may run past the width.
                assert!(
                    visible_width(line) <= 72 || line.contains('`'),
                    "{}: {line}",
                    e.term
                );
            }
        }
    }

    #[test]
    fn list_has_every_entry() {
        let v = vocab();
        let l = list(&v);
        assert_eq!(l.count, v.entries().len());
        let text = l.render_human(&Style::plain());
        for e in v.entries() {
            assert!(text.contains(&e.term), "{}", e.term);
        }
    }
}
