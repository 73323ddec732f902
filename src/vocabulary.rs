//! The course's vocabulary: `docs/vocabulary.md`, built into the binary and parsed here.
//!
//! The document is the single source of teaching text (decision 5 of the architecture):
//! `netlab explain` prints its entries and the docs show the same file, so the two cannot
//! disagree. Pure code: the text is embedded at compile time; parsing and matching do no
//! I/O.
//!
//! # The shape of an entry
//!
//! ```text
//! ## Term
//!
//! Also: other name, another name
//!
//! **Definition:** one paragraph (it may wrap over several lines)
//!
//! **Source:** …
//! **Related:** …
//! **Misconception:** … (optional; when there are several, each starts a line of its own,
//! and the lines up to the next blank one are all this one field)
//! **See it:** … `netlab …` …
//! **In the code:** `src/path.rs` `Item`, `Type::method`; `src/other.rs` `item`
//! ```
//!
//! A blank line ends a field; text outside a field, an unknown label, a missing field or a
//! name (term or alias) used by two entries is a [`ParseError`], so a slip in the document
//! fails the tests instead of silently hiding an entry.

use serde::Serialize;
use std::collections::HashMap;

/// `docs/vocabulary.md`, as it was when netlab was built.
pub const TEXT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vocabulary.md"));

/// The field labels, in the order the document gives them.
pub const LABELS: [&str; 6] = [
    "Definition",
    "Source",
    "Related",
    "Misconception",
    "See it",
    "In the code",
];

/// One term of the course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub term: String,
    pub aliases: Vec<String>,
    pub definition: String,
    pub source: String,
    pub related: String,
    /// What students often believe instead; not every term has one.
    pub misconception: Option<String>,
    /// The "See it" text as written (it may say that no netlab command shows the term).
    pub see_it: String,
    /// The `netlab …` commands quoted in "See it".
    pub commands: Vec<String>,
    /// The "In the code" text as written.
    pub in_the_code: String,
    /// The files and items quoted in "In the code".
    pub code: Vec<CodeRef>,
}

/// A file and the items in it that embody a term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeRef {
    /// Relative to the repository's root, e.g. `src/wire/application/websocket/mask.rs`.
    pub path: String,
    /// Items in that file: `apply_mask`, `Segment::ack`, `Protocol::Dns`.
    pub items: Vec<String>,
}

/// Why the document could not be read as a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the document has no `## Term` entries")]
    NoEntries,
    #[error("line {line}: `{label}` is not a field label (expected one of: {})", LABELS.join(", "))]
    UnknownLabel { line: usize, label: String },
    #[error("line {line}: text outside any field in the entry `{term}`")]
    TextOutsideField { line: usize, term: String },
    #[error("entry `{term}`: the field `{label}` appears twice")]
    DuplicateField { term: String, label: &'static str },
    #[error("entry `{term}`: the field `{label}` is missing")]
    MissingField { term: String, label: &'static str },
    #[error("the name `{name}` belongs to both `{first}` and `{second}`")]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },
    #[error("entry `{term}`: `In the code` names the item `{item}` before any file")]
    ItemWithoutFile { term: String, item: String },
}

/// Every entry, in the document's order, and an index of every name for lookups.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    entries: Vec<Entry>,
    /// Normalised term or alias → index into `entries`.
    names: HashMap<String, usize>,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The query is a term or an alias (ignoring case, hyphens and a plural `s`).
    Found(&'a Entry),
    /// Nothing matched exactly; these are close (best first).
    Suggestions(Vec<&'a Entry>),
    /// Nothing is even close.
    Nothing,
}

/// At most this many suggestions for a query that matched nothing.
pub const MAX_SUGGESTIONS: usize = 5;

impl Vocabulary {
    /// The vocabulary built into this binary.
    pub fn embedded() -> Result<Vocabulary, ParseError> {
        Vocabulary::parse(TEXT)
    }

    /// Read a document in the shape described in the module docs.
    pub fn parse(text: &str) -> Result<Vocabulary, ParseError> {
        let mut drafts: Vec<Draft> = Vec::new();
        // What the current non-blank line continues.
        let mut open: Open = Open::Nothing;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let trimmed = line.trim();
            if let Some(term) = line.strip_prefix("## ") {
                drafts.push(Draft::new(term.trim()));
                open = Open::Nothing;
                continue;
            }
            let Some(draft) = drafts.last_mut() else {
                continue; // the introduction before the first entry
            };
            if trimmed.is_empty() {
                open = Open::Nothing;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Also:") {
                draft.also.push_str(rest);
                open = Open::Also;
                continue;
            }
            if let Some((label, rest)) = field_start(line) {
                let Some(slot) = LABELS.iter().position(|l| *l == label) else {
                    return Err(ParseError::UnknownLabel {
                        line: n,
                        label: label.to_owned(),
                    });
                };
                if draft.fields[slot].is_some() {
                    return Err(ParseError::DuplicateField {
                        term: draft.term.clone(),
                        label: LABELS[slot],
                    });
                }
                draft.fields[slot] = Some(rest.trim().to_owned());
                open = Open::Field(slot);
                continue;
            }
            match open {
                Open::Also => {
                    draft.also.push(' ');
                    draft.also.push_str(trimmed);
                }
                Open::Field(slot) => {
                    if let Some(f) = draft.fields[slot].as_mut() {
                        if !f.is_empty() {
                            f.push(' ');
                        }
                        f.push_str(trimmed);
                    }
                }
                Open::Nothing => {
                    return Err(ParseError::TextOutsideField {
                        line: n,
                        term: draft.term.clone(),
                    })
                }
            }
        }
        if drafts.is_empty() {
            return Err(ParseError::NoEntries);
        }
        let entries = drafts
            .into_iter()
            .map(Draft::finish)
            .collect::<Result<Vec<Entry>, ParseError>>()?;
        let mut names: HashMap<String, usize> = HashMap::new();
        for (idx, e) in entries.iter().enumerate() {
            for name in std::iter::once(&e.term).chain(&e.aliases) {
                let key = normalize(name);
                match names.get(&key) {
                    Some(&other) if other != idx => {
                        return Err(ParseError::DuplicateName {
                            name: name.clone(),
                            first: entries[other].term.clone(),
                            second: e.term.clone(),
                        })
                    }
                    _ => {
                        names.insert(key, idx);
                    }
                }
            }
        }
        Ok(Vocabulary { entries, names })
    }

    /// Every entry, in the document's order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Find a term by its name or an alias; failing that, suggest close ones.
    ///
    /// Exact means equal after [`normalize`] (case, hyphens, underscores and runs of
    /// spaces do not matter), or equal once a plural `s` is dropped. Close means within a
    /// few edits ([`edit_distance`], a transposition counting as one), or a name that
    /// starts with the query, or has a word that does; only the closest few are returned.
    pub fn lookup(&self, query: &str) -> Lookup<'_> {
        let q = normalize(query);
        if q.is_empty() {
            return Lookup::Nothing;
        }
        if let Some(&i) = self.names.get(&q) {
            return Lookup::Found(&self.entries[i]);
        }
        if let Some(singular) = q.strip_suffix('s') {
            if let Some(&i) = self.names.get(singular) {
                return Lookup::Found(&self.entries[i]);
            }
        }
        let q_len = q.chars().count();
        let budget = match q_len {
            0..=3 => 1,
            4..=6 => 2,
            _ => 3,
        };
        // Scores, lower is better: a typo costs its edit distance; a name that starts with
        // the query costs 1, a word of a name that does 2, a typo inside one word of a
        // longer name ("duplx" for "full duplex") one more than the typo. Matching an alias
        // instead of the term costs one more, so "sock" suggests Socket and Socket.IO
        // before the entries that merely have an alias such as "socket.join".
        let mut best: HashMap<usize, usize> = HashMap::new();
        for (name, &idx) in &self.names {
            let mut score: Option<usize> = None;
            let mut consider = |s: usize| score = Some(score.map_or(s, |old| old.min(s)));
            let d = edit_distance(&q, name);
            if d <= budget {
                consider(d);
            }
            if q_len >= 2 && name.starts_with(&q) {
                consider(1);
            }
            let words = || name.split([' ', '/', '.']).filter(|w| !w.is_empty());
            if q_len >= 3 && words().any(|w| w.starts_with(&q)) {
                consider(2);
            }
            if q_len >= 4 && !q.contains(' ') {
                if let Some(d) = words().map(|w| edit_distance(&q, w)).min() {
                    if d <= budget {
                        consider(d + 1);
                    }
                }
            }
            if let Some(mut s) = score {
                if *name != normalize(&self.entries[idx].term) {
                    s += 1;
                }
                let e = best.entry(idx).or_insert(s);
                *e = (*e).min(s);
            }
        }
        if best.is_empty() {
            return Lookup::Nothing;
        }
        // Only the closest: one good guess beats five poor ones.
        let top = best.values().copied().min().unwrap_or(0);
        let mut ranked: Vec<(usize, usize)> = best
            .into_iter()
            .filter(|&(_, s)| s == top)
            .map(|(i, s)| (s, i))
            .collect();
        // Ties: the shorter term first (more general), then the document's order.
        ranked.sort_by_key(|&(s, i)| (s, self.entries[i].term.len(), i));
        Lookup::Suggestions(
            ranked
                .into_iter()
                .take(MAX_SUGGESTIONS)
                .map(|(_, i)| &self.entries[i])
                .collect(),
        )
    }
}

/// Lower case, `-`, `_` and `/` as spaces, runs of whitespace as one space, trimmed.
///
/// `/` too, because students write the model's name every way: "TCP/IP model",
/// "TCP-IP model", "TCP IP model".
pub fn normalize(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| match c {
            '-' | '_' | '/' => ' ',
            c => c,
        })
        .collect::<String>()
        .to_lowercase();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The optimal-string-alignment distance: insertions, deletions, substitutions and
/// transpositions of two neighbouring characters each cost one ("sokcet" is one edit from
/// "socket").
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: the one before the previous (for transpositions), the previous, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The code spans (`` `…` ``) of a field, in order, with inner whitespace collapsed (a
/// span may wrap across lines in the document).
pub fn code_spans(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

enum Open {
    Nothing,
    Also,
    Field(usize),
}

struct Draft {
    term: String,
    also: String,
    fields: [Option<String>; 6],
}

impl Draft {
    fn new(term: &str) -> Draft {
        Draft {
            term: term.to_owned(),
            also: String::new(),
            fields: Default::default(),
        }
    }

    fn finish(self) -> Result<Entry, ParseError> {
        let term = self.term;
        let mut fields = self.fields;
        let mut take = |slot: usize| -> Result<String, ParseError> {
            fields[slot]
                .take()
                .filter(|f| !f.is_empty())
                .ok_or_else(|| ParseError::MissingField {
                    term: term.clone(),
                    label: LABELS[slot],
                })
        };
        let definition = take(0)?;
        let source = take(1)?;
        let related = take(2)?;
        let misconception = take(3).ok();
        let see_it = take(4)?;
        let in_the_code = take(5)?;
        let commands = code_spans(&see_it)
            .into_iter()
            .filter(|s| s.starts_with("netlab "))
            .collect();
        let code = code_refs(&term, &in_the_code)?;
        let mut aliases: Vec<String> = Vec::new();
        for a in self
            .also
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            let key = normalize(a);
            if key != normalize(&term) && !aliases.iter().any(|x| normalize(x) == key) {
                aliases.push(a.to_owned());
            }
        }
        Ok(Entry {
            term,
            aliases,
            definition,
            source,
            related,
            misconception,
            see_it,
            commands,
            in_the_code,
            code,
        })
    }
}

/// `**Label:** rest` → (`Label`, `rest`).
fn field_start(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("**")?;
    let end = rest.find(":**")?;
    Some((&rest[..end], &rest[end + 3..]))
}

/// Is this code span a file path (as opposed to an item in the file before it)?
fn is_path(span: &str) -> bool {
    !span.contains(' ')
        && span.contains('/')
        && [".rs", ".md", ".js", ".sh", ".json", ".toml", ".pcap"]
            .iter()
            .any(|ext| span.ends_with(ext))
}

fn code_refs(term: &str, text: &str) -> Result<Vec<CodeRef>, ParseError> {
    let mut refs: Vec<CodeRef> = Vec::new();
    for span in code_spans(text) {
        if is_path(&span) {
            refs.push(CodeRef {
                path: span,
                items: Vec::new(),
            });
        } else if let Some(last) = refs.last_mut() {
            last.items.push(span);
        } else {
            return Err(ParseError::ItemWithoutFile {
                term: term.to_owned(),
                item: span,
            });
        }
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Title\n\nIntro text, ignored.\n\n## Socket\n\nAlso: sockets, BSD socket,\nendpoint\n\n\
**Definition:** One end\nof a conversation.\n\n**Source:** POSIX.\n\n**Related:** Port.\n\n\
**See it:** `netlab tcp demo`, or `netlab\nudp demo`.\n\n**In the code:** `src/net/tcp.rs` `listen`, \
`connect`; `src/net/udp.rs` `UdpPort`\n\n## Full duplex\n\nAlso: full-duplex, bidirectional\n\n\
**Definition:** Both ways at once.\n\n**Source:** RFC 9293 §2.2.\n\n**Related:** TCP.\n\n\
**Misconception:** Request-reply.\n\n**See it:** No netlab command shows this yet.\n\n\
**In the code:** No netlab code yet.\n";

    #[test]
    fn parses_fields_aliases_commands_and_code() {
        let v = Vocabulary::parse(DOC).unwrap();
        assert_eq!(v.entries().len(), 2);
        let s = &v.entries()[0];
        assert_eq!(s.term, "Socket");
        assert_eq!(s.aliases, ["sockets", "BSD socket", "endpoint"]);
        assert_eq!(s.definition, "One end of a conversation.");
        assert_eq!(s.misconception, None);
        assert_eq!(s.commands, ["netlab tcp demo", "netlab udp demo"]);
        assert_eq!(
            s.code,
            [
                CodeRef {
                    path: "src/net/tcp.rs".into(),
                    items: vec!["listen".into(), "connect".into()]
                },
                CodeRef {
                    path: "src/net/udp.rs".into(),
                    items: vec!["UdpPort".into()]
                }
            ]
        );
        let d = &v.entries()[1];
        // "full-duplex" is the term itself once hyphens are spaces: not kept as an alias.
        assert_eq!(d.aliases, ["bidirectional"]);
        assert_eq!(d.misconception.as_deref(), Some("Request-reply."));
        assert!(d.commands.is_empty() && d.code.is_empty());
    }

    #[test]
    fn finds_by_term_alias_case_hyphen_and_plural() {
        let v = Vocabulary::parse(DOC).unwrap();
        for q in [
            "socket",
            "SOCKET",
            "Sockets",
            " bsd   socket ",
            "Endpoint",
            "endpoints",
        ] {
            assert!(
                matches!(v.lookup(q), Lookup::Found(e) if e.term == "Socket"),
                "{q}"
            );
        }
        for q in ["tcp model", "TCP-IP model", "tcp ip model", "TCP/IP Model"] {
            assert!(
                matches!(Vocabulary::embedded().unwrap().lookup(q), Lookup::Found(e) if e.term == "TCP/IP model"),
                "{q}"
            );
        }
        for q in ["full duplex", "Full-Duplex", "full_duplex", "BIDIRECTIONAL"] {
            assert!(
                matches!(v.lookup(q), Lookup::Found(e) if e.term == "Full duplex"),
                "{q}"
            );
        }
    }

    #[test]
    fn suggests_for_typos_and_prefixes_and_gives_up_on_nonsense() {
        let v = Vocabulary::parse(DOC).unwrap();
        for q in ["sokcet", "sockt", "sock", "duplx", "bidi"] {
            let Lookup::Suggestions(s) = v.lookup(q) else {
                panic!("{q}: expected suggestions, got {:?}", v.lookup(q));
            };
            assert!(!s.is_empty() && s.len() <= MAX_SUGGESTIONS, "{q}");
        }
        assert!(matches!(v.lookup("sokcet"), Lookup::Suggestions(s) if s[0].term == "Socket"));
        assert_eq!(v.lookup("zebra crossing"), Lookup::Nothing);
        assert_eq!(v.lookup("   "), Lookup::Nothing);
    }

    #[test]
    fn edit_distance_counts_a_transposition_as_one() {
        assert_eq!(edit_distance("socket", "socket"), 0);
        assert_eq!(edit_distance("sokcet", "socket"), 1);
        assert_eq!(edit_distance("sockt", "socket"), 1);
        assert_eq!(edit_distance("", "tcp"), 3);
        assert_eq!(edit_distance("udp", "tcp"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn slips_in_the_document_are_errors() {
        let missing = DOC.replace("**Source:** POSIX.\n\n", "");
        assert!(matches!(
            Vocabulary::parse(&missing),
            Err(ParseError::MissingField {
                label: "Source",
                ..
            })
        ));
        let unknown = DOC.replace("**Related:** Port.", "**Releated:** Port.");
        assert!(matches!(
            Vocabulary::parse(&unknown),
            Err(ParseError::UnknownLabel { .. })
        ));
        let stray = DOC.replace("**Related:** Port.\n\n", "**Related:** Port.\n\nstray\n\n");
        assert!(matches!(
            Vocabulary::parse(&stray),
            Err(ParseError::TextOutsideField { .. })
        ));
        let twice = DOC.replace("Also: full-duplex,", "Also: endpoint, full-duplex,");
        assert!(matches!(
            Vocabulary::parse(&twice),
            Err(ParseError::DuplicateName { .. })
        ));
        let orphan = DOC.replace(
            "**In the code:** No netlab code yet.",
            "**In the code:** `x`",
        );
        assert!(matches!(
            Vocabulary::parse(&orphan),
            Err(ParseError::ItemWithoutFile { .. })
        ));
        assert!(matches!(
            Vocabulary::parse("no entries"),
            Err(ParseError::NoEntries)
        ));
    }

    #[test]
    fn the_embedded_document_parses() {
        let v = Vocabulary::embedded().unwrap();
        assert!(v.entries().len() >= 40);
    }
}
