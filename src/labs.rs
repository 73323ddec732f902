//! The labs' metadata: `labs/labs.toml`, built into the binary and checked here.
//!
//! One file says, for every lab, its number, title, guide, prerequisites, whether it needs
//! capture privilege, and its steps: what to do and why, the netlab command to run (and
//! the shipped capture to read instead when live capture is not possible), and questions
//! whose answers are read from the run's own report. `netlab lab` (`cmd/lab/`) runs them.
//!
//! Pure code: the text is embedded at compile time; parsing, validation, reading an answer
//! out of a report and checking a student's answer do no I/O. A slip in the file (an
//! unknown key, a missing hint, a lab numbered out of order, a placeholder that is not a
//! JSON pointer) is a [`LabsError`], so `cargo test` catches it.
//!
//! # Where an answer comes from
//!
//! A step's command runs in-process; everything it printed is recorded as JSON (see
//! `output::Recorded`) in one document `{"report": <its last report>, "events": [...]}`.
//! A question's `answer` is a JSON pointer (RFC 6901) into that document, and `take` says
//! what to do with the value found: `value` (as it is), `count` (an array's length),
//! `port` (the port of an `address:port` string), `first_word` or `word_count` (of a
//! string of space-separated words, such as a hex dump). Question texts may quote the run
//! with `{/report/...}` placeholders, and an explanation may say `{answer}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// `labs/labs.toml`, as it was when netlab was built.
pub const TEXT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/labs/labs.toml"));

/// The one placeholder a command may hold: the session's seed.
pub const SEED: &str = "{seed}";

/// Every lab.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Labs {
    #[serde(rename = "lab")]
    pub labs: Vec<Lab>,
}

/// One lab.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    pub id: u32,
    pub title: String,
    /// The guide, relative to the repository root (`labs/NN-topic.md`).
    pub guide: String,
    /// What the student can do at the end, in one or two sentences.
    pub goal: String,
    /// Labs to do first (their numbers).
    #[serde(default)]
    pub prerequisites: Vec<u32>,
    /// Whether a live run needs capture privilege (root, CAP_NET_RAW, or a user
    /// namespace); without it the steps' `fallback` commands read shipped captures.
    #[serde(default)]
    pub needs_capture: bool,
    /// The guide's questions that no step checks against the student's run: answered by
    /// reasoning, or from parts of the guide the guided run does not run. `lab run` lists
    /// them at the end, marked as reading questions. Every question of the guide is
    /// either here or named by a step's question (`guide = N`): `tests/lab.rs` fails when
    /// the two drift apart.
    #[serde(default)]
    pub reading: Vec<u32>,
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
}

/// One step of a lab.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// What to do.
    #[serde(rename = "do")]
    pub what: String,
    /// Why: what the step shows.
    pub why: String,
    /// A prediction to write down before the command runs (recorded, not graded).
    #[serde(default)]
    pub predict: Option<String>,
    /// The netlab command the lab runs (`netlab ...`; `{seed}` is replaced by the
    /// session's seed).
    #[serde(default)]
    pub command: Option<String>,
    /// For a capture step: the same lesson from a shipped capture, run when a live
    /// capture is not possible.
    #[serde(default)]
    pub fallback: Option<String>,
    /// Commands the student runs in other terminals (the lab waits for Enter). These run
    /// in the student's shell, so one may take its input from a pipe
    /// (`echo hi | netlab ...`); [`netlab_part`] is its netlab command.
    #[serde(default)]
    pub elsewhere: Vec<String>,
    /// The step's command is expected to fail: with exit code 1 and an error message
    /// that contains this text (a refused connection, a port in use, a closed port).
    #[serde(default)]
    pub expect_error: Option<String>,
    /// A TCP port on 127.0.0.1 that netlab holds with a listener of its own while the
    /// command runs, standing for "another program already listens there".
    #[serde(default)]
    pub hold_port: Option<u16>,
    #[serde(default, rename = "question")]
    pub questions: Vec<Question>,
}

/// A question answered from the run's own report.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub ask: String,
    /// The number of the guide's question this one checks from the student's run.
    #[serde(default)]
    pub guide: Option<u32>,
    /// A JSON pointer into `{"report": ..., "events": [...], "packets": [...]}`.
    pub answer: String,
    #[serde(default)]
    pub take: Take,
    #[serde(default)]
    pub kind: Kind,
    /// For numbers: how far from the measured value an answer may be.
    #[serde(default)]
    pub tolerance: f64,
    /// Shown after the first wrong answer.
    pub hint: String,
    /// Shown after the second wrong answer, with the measured value.
    pub explain: String,
}

/// What to make of the value an answer's pointer finds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Take {
    #[default]
    Value,
    Count,
    Port,
    FirstWord,
    WordCount,
    /// A count of microseconds, given in milliseconds (as the tables print it).
    Millis,
}

/// How answers are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A number, within the question's tolerance.
    #[default]
    Number,
    /// Text: case, surrounding space and a leading `0x` do not matter.
    Text,
}

/// A defect in `labs/labs.toml`, or an answer the report does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabsError(pub String);

impl fmt::Display for LabsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabsError {}

fn err(msg: impl Into<String>) -> LabsError {
    LabsError(msg.into())
}

impl Labs {
    /// The built-in labs (parsed and validated).
    pub fn builtin() -> Result<Labs, LabsError> {
        Labs::parse(TEXT)
    }

    /// Parse and validate a metadata file.
    pub fn parse(text: &str) -> Result<Labs, LabsError> {
        let labs: Labs = toml::from_str(text).map_err(|e| err(format!("labs/labs.toml: {e}")))?;
        labs.validate()?;
        Ok(labs)
    }

    /// The lab numbered `id`.
    pub fn get(&self, id: u32) -> Option<&Lab> {
        self.labs.iter().find(|l| l.id == id)
    }

    fn validate(&self) -> Result<(), LabsError> {
        if self.labs.is_empty() {
            return Err(err("labs/labs.toml has no [[lab]]"));
        }
        for (i, lab) in self.labs.iter().enumerate() {
            let at = format!("lab {}", lab.id);
            let want = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if lab.id != want {
                return Err(err(format!(
                    "{at}: labs are numbered 1, 2, 3, ... in order; expected {want}"
                )));
            }
            for (what, text) in [("title", &lab.title), ("goal", &lab.goal)] {
                if text.trim().is_empty() {
                    return Err(err(format!("{at}: empty {what}")));
                }
            }
            let prefix = format!("labs/{:02}-", lab.id);
            if !(lab.guide.starts_with(&prefix) && lab.guide.ends_with(".md")) {
                return Err(err(format!(
                    "{at}: guide `{}` should be `{prefix}topic.md`",
                    lab.guide
                )));
            }
            for p in &lab.prerequisites {
                if *p == 0 || *p >= lab.id {
                    return Err(err(format!("{at}: prerequisite {p} is not an earlier lab")));
                }
            }
            if lab.steps.is_empty() {
                return Err(err(format!("{at}: no steps")));
            }
            let mut questions = 0;
            let mut fallbacks = 0;
            for (j, step) in lab.steps.iter().enumerate() {
                let at = format!("{at} step {}", j + 1);
                step.validate(&at, lab.needs_capture)?;
                questions += step.questions.len();
                fallbacks += usize::from(step.fallback.is_some());
            }
            if questions < 2 {
                return Err(err(format!(
                    "{at}: {questions} question(s); a lab asks at least 2"
                )));
            }
            if lab.needs_capture && fallbacks == 0 {
                return Err(err(format!(
                    "{at}: needs capture, but no step has a fallback (a shipped capture)"
                )));
            }
        }
        Ok(())
    }
}

impl Step {
    fn validate(&self, at: &str, needs_capture: bool) -> Result<(), LabsError> {
        for (what, text) in [
            ("title", &self.title),
            ("do", &self.what),
            ("why", &self.why),
        ] {
            if text.trim().is_empty() {
                return Err(err(format!("{at}: empty `{what}`")));
            }
        }
        if self.command.is_none() && self.elsewhere.is_empty() {
            return Err(err(format!(
                "{at}: a step has a `command`, or `elsewhere` commands, or both"
            )));
        }
        let commands = self
            .command
            .iter()
            .chain(self.fallback.iter())
            .map(String::as_str)
            .chain(self.elsewhere.iter().map(|c| netlab_part(c)));
        for c in commands {
            let words = split_command(c).map_err(|e| err(format!("{at}: `{c}`: {e}")))?;
            if words.first().map(String::as_str) != Some("netlab") {
                return Err(err(format!("{at}: `{c}` is not a netlab command")));
            }
            if words.iter().any(|w| w == "--json" || w == "--jsonl") {
                return Err(err(format!(
                    "{at}: `{c}`: the lab chooses the output format; drop --json/--jsonl"
                )));
            }
            if c.replace(SEED, "").contains(['{', '}']) {
                return Err(err(format!("{at}: `{c}`: the only placeholder is {SEED}")));
            }
        }
        if self.fallback.is_some() {
            if !needs_capture {
                return Err(err(format!(
                    "{at}: a fallback only makes sense in a lab that needs capture"
                )));
            }
            if self.command.is_none() {
                return Err(err(format!("{at}: a fallback without a command")));
            }
        }
        self.validate_expected(at)?;
        if !self.questions.is_empty() && self.command.is_none() {
            return Err(err(format!(
                "{at}: questions need a command whose report answers them"
            )));
        }
        if let Some(p) = &self.predict {
            check_placeholders(at, p, false)?;
        }
        for (k, q) in self.questions.iter().enumerate() {
            let at = format!("{at} question {}", k + 1);
            for (what, text) in [("ask", &q.ask), ("hint", &q.hint), ("explain", &q.explain)] {
                if text.trim().is_empty() {
                    return Err(err(format!("{at}: empty `{what}`")));
                }
            }
            check_pointer(&at, &q.answer)?;
            check_placeholders(&at, &q.ask, false)?;
            check_placeholders(&at, &q.hint, false)?;
            check_placeholders(&at, &q.explain, true)?;
            if !(q.tolerance >= 0.0 && q.tolerance.is_finite()) {
                return Err(err(format!("{at}: tolerance must be 0 or more")));
            }
            if q.kind == Kind::Text && q.tolerance != 0.0 {
                return Err(err(format!("{at}: a text answer has no tolerance")));
            }
            if q.kind == Kind::Text
                && matches!(
                    q.take,
                    Take::Count | Take::Port | Take::WordCount | Take::Millis
                )
            {
                return Err(err(format!(
                    "{at}: `take = {:?}` gives a number; say `kind = \"number\"`",
                    q.take
                )));
            }
        }
        Ok(())
    }
    /// `expect_error` and `hold_port`: about a command, and meaning something.
    fn validate_expected(&self, at: &str) -> Result<(), LabsError> {
        if (self.expect_error.is_some() || self.hold_port.is_some()) && self.command.is_none() {
            return Err(err(format!(
                "{at}: `expect_error` and `hold_port` are about the step's `command`"
            )));
        }
        if self.hold_port.is_some() && self.expect_error.is_none() {
            return Err(err(format!(
                "{at}: `hold_port` is for a command expected to fail: add `expect_error`"
            )));
        }
        if self.expect_error.is_some() && self.fallback.is_some() {
            return Err(err(format!(
                "{at}: a command expected to fail has no fallback"
            )));
        }
        if self
            .expect_error
            .as_deref()
            .is_some_and(|e| e.trim().is_empty())
        {
            return Err(err(format!(
                "{at}: an empty `expect_error` matches any error"
            )));
        }
        if self.expect_error.is_some()
            && self
                .command
                .as_deref()
                .is_some_and(|c| c.contains("--own-namespace"))
        {
            return Err(err(format!(
                "{at}: a command expected to fail runs in netlab's own process, not in a \
                 namespace of its own"
            )));
        }
        if self.hold_port == Some(0) {
            return Err(err(format!("{at}: `hold_port = 0` holds no port")));
        }
        Ok(())
    }
}

fn check_pointer(at: &str, p: &str) -> Result<(), LabsError> {
    if p == "/report"
        || ["/report/", "/events/", "/packets/", "/error/"]
            .iter()
            .any(|s| p.starts_with(s))
    {
        Ok(())
    } else {
        Err(err(format!(
            "{at}: `{p}` should be a JSON pointer starting /report/, /events/, /packets/ or /error/"
        )))
    }
}

/// Every `{...}` in `text` is a pointer (or `{answer}` where `answer_ok`).
fn check_placeholders(at: &str, text: &str, answer_ok: bool) -> Result<(), LabsError> {
    for piece in placeholders(text).map_err(|e| err(format!("{at}: {e}")))? {
        if piece == "answer" {
            if !answer_ok {
                return Err(err(format!(
                    "{at}: {{answer}} may only appear in an explanation"
                )));
            }
        } else {
            check_pointer(at, piece)?;
        }
    }
    Ok(())
}

/// The insides of the `{...}` in `text`, in order.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in `{text}`"))?;
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("a `}}` without `{{` in `{text}`"));
    }
    Ok(out)
}

/// Replace each `{/pointer}` with what the run's document holds there, and `{answer}`
/// with `answer`.
pub fn fill(text: &str, doc: &Value, answer: Option<&str>) -> Result<String, LabsError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| err(format!("unclosed `{{` in `{text}`")))?;
        let key = &after[..close];
        if key == "answer" {
            out.push_str(answer.ok_or_else(|| err("no {answer} here"))?);
        } else {
            out.push_str(&display(lookup(doc, key)?));
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup<'a>(doc: &'a Value, pointer: &str) -> Result<&'a Value, LabsError> {
    doc.pointer(pointer)
        .ok_or_else(|| err(format!("the run's report has nothing at `{pointer}`")))
}

/// A JSON value as a student would write it: strings without quotes.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_owned(),
        other => other.to_string(),
    }
}

impl Question {
    /// The correct answer, as measured by this run.
    pub fn measure(&self, doc: &Value) -> Result<String, LabsError> {
        let v = lookup(doc, &self.answer)?;
        let bad = |what: &str| err(format!("`{}` holds {v}, which is not {what}", self.answer));
        let s = match self.take {
            Take::Value => match v {
                Value::Array(_) | Value::Object(_) | Value::Null => {
                    return Err(bad("a single value"))
                }
                _ => display(v),
            },
            Take::Count => v.as_array().ok_or_else(|| bad("a list"))?.len().to_string(),
            Take::Port => {
                let s = v.as_str().ok_or_else(|| bad("an address"))?;
                let (_, port) = s.rsplit_once(':').ok_or_else(|| bad("address:port"))?;
                port.parse::<u16>()
                    .map_err(|_| bad("address:port"))?
                    .to_string()
            }
            Take::FirstWord => v
                .as_str()
                .and_then(|s| s.split_whitespace().next())
                .ok_or_else(|| bad("words"))?
                .to_owned(),
            Take::WordCount => v
                .as_str()
                .ok_or_else(|| bad("words"))?
                .split_whitespace()
                .count()
                .to_string(),
            Take::Millis => {
                let us = v.as_u64().ok_or_else(|| bad("a count of microseconds"))?;
                format!("{:.3}", us as f64 / 1000.0)
            }
        };
        if self.kind == Kind::Number && number(&s).is_none() {
            return Err(bad("a number"));
        }
        Ok(s)
    }

    /// Is `given` the measured answer?
    pub fn check(&self, measured: &str, given: &str) -> Verdict {
        match self.kind {
            Kind::Number => {
                let (Some(want), Some(got)) = (number(measured), number(given)) else {
                    return Verdict::NotANumber;
                };
                if (want - got).abs() <= self.tolerance {
                    Verdict::Right
                } else {
                    Verdict::Wrong
                }
            }
            Kind::Text => {
                if normal_text(measured) == normal_text(given) {
                    Verdict::Right
                } else {
                    Verdict::Wrong
                }
            }
        }
    }
}

/// What a student's answer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Right,
    Wrong,
    /// A number was asked for (counts as a wrong attempt).
    NotANumber,
}

/// A number as students type it: `1048576`, `1,048,576`, `1_048_576`, `8 datagrams`.
pub fn number(s: &str) -> Option<f64> {
    let first = s.split_whitespace().next()?;
    let digits: String = first.chars().filter(|c| *c != ',' && *c != '_').collect();
    digits.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn normal_text(s: &str) -> String {
    let t = s.trim().to_lowercase();
    let t = t.strip_prefix("0x").unwrap_or(&t);
    t.trim_matches('"')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The netlab command of an other-terminal command line: what follows the last `| ` when
/// that is a netlab command (`echo hi | netlab tcp connect ...`), else the whole line.
pub fn netlab_part(line: &str) -> &str {
    match line.rsplit_once("| ") {
        Some((_, cmd)) if cmd.trim_start().starts_with("netlab ") => cmd.trim_start(),
        _ => line,
    }
}

/// Split a command line into words as a POSIX shell would for simple lines: spaces
/// separate words, and single or double quotes group them.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, '|' | '<' | '>' | ';' | '&' | '$' | '`' | '\\') => {
                return Err(format!(
                    "`{c}` needs a shell; a lab command is one netlab command"
                ))
            }
            (None, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unbalanced quotes".to_owned());
    }
    if any {
        words.push(cur);
    }
    if words.is_empty() {
        return Err("empty command".to_owned());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_builtin_labs_parse_and_validate() {
        let labs = Labs::builtin().unwrap();
        assert!(labs.labs.len() >= 6);
    }

    fn q(answer: &str, take: Take, kind: Kind, tolerance: f64) -> Question {
        Question {
            ask: "?".into(),
            guide: None,
            answer: answer.into(),
            take,
            kind,
            tolerance,
            hint: "h".into(),
            explain: "e".into(),
        }
    }

    #[test]
    fn measures_each_kind_of_answer() {
        let doc = json!({"report": {"reads": [1, 2, 3], "client": "127.0.0.1:5555",
            "hex": "81 a0 0b", "n": 8, "key": "AbC=", "us": 30258}, "events": []});
        let m = |p, t, k| q(p, t, k, 0.0).measure(&doc).unwrap();
        assert_eq!(m("/report/reads", Take::Count, Kind::Number), "3");
        assert_eq!(m("/report/client", Take::Port, Kind::Number), "5555");
        assert_eq!(m("/report/hex", Take::FirstWord, Kind::Text), "81");
        assert_eq!(m("/report/hex", Take::WordCount, Kind::Number), "3");
        assert_eq!(m("/report/n", Take::Value, Kind::Number), "8");
        assert_eq!(m("/report/us", Take::Millis, Kind::Number), "30.258");
        assert_eq!(m("/report/key", Take::Value, Kind::Text), "AbC=");
        assert!(q("/report/nothing", Take::Value, Kind::Number, 0.0)
            .measure(&doc)
            .is_err());
        assert!(q("/report/key", Take::Value, Kind::Number, 0.0)
            .measure(&doc)
            .is_err());
        assert!(q("/report/reads", Take::Value, Kind::Number, 0.0)
            .measure(&doc)
            .is_err());
    }

    #[test]
    fn checks_numbers_with_tolerance_and_text_loosely() {
        let n = q("/report", Take::Value, Kind::Number, 2.0);
        assert_eq!(n.check("100", "101"), Verdict::Right);
        assert_eq!(n.check("100", "103"), Verdict::Wrong);
        assert_eq!(n.check("1048576", "1,048,576 bytes"), Verdict::Right);
        assert_eq!(n.check("8", "eight"), Verdict::NotANumber);
        let exact = q("/report", Take::Value, Kind::Number, 0.0);
        assert_eq!(exact.check("8", "8"), Verdict::Right);
        assert_eq!(exact.check("8", "9"), Verdict::Wrong);
        let t = q("/report", Take::Value, Kind::Text, 0.0);
        assert_eq!(t.check("d3", " 0xD3 "), Verdict::Right);
        assert_eq!(
            t.check(
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "s3pplmbitxaq9kygzzhzrbk+xoo="
            ),
            Verdict::Right
        );
        assert_eq!(t.check("d3", "d4"), Verdict::Wrong);
    }

    #[test]
    fn fills_placeholders_from_the_run() {
        let doc = json!({"report": {"seq": 41, "who": "server"}});
        assert_eq!(
            fill(
                "seq {/report/seq}, from the {/report/who}: {answer}",
                &doc,
                Some("42")
            )
            .unwrap(),
            "seq 41, from the server: 42"
        );
        assert!(fill("{/report/missing}", &doc, None).is_err());
        assert!(fill("{answer}", &doc, None).is_err());
    }

    #[test]
    fn splits_commands_like_a_shell() {
        assert_eq!(
            split_command(r#"netlab udp send 127.0.0.1:9 "two words" 'x y'"#).unwrap(),
            ["netlab", "udp", "send", "127.0.0.1:9", "two words", "x y"]
        );
        assert!(split_command("netlab tcp demo | head").is_err());
        assert!(split_command("netlab \"open").is_err());
        assert!(split_command("  ").is_err());
    }

    const ONE: &str = r#"
[[lab]]
id = 1
title = "t"
guide = "labs/01-t.md"
goal = "g"

[[lab.step]]
title = "s"
do = "d"
why = "w"
command = "netlab tcp demo"

[[lab.step.question]]
ask = "a {/report/x}"
answer = "/report/x"
hint = "h"
explain = "e {answer}"

[[lab.step.question]]
ask = "b"
answer = "/report/y"
hint = "h"
explain = "e"
"#;

    #[test]
    fn an_other_terminal_command_may_read_a_pipe() {
        assert_eq!(
            netlab_part("echo \"a | b\" | netlab tcp connect 127.0.0.1:9000"),
            "netlab tcp connect 127.0.0.1:9000"
        );
        assert_eq!(netlab_part("netlab tcp demo"), "netlab tcp demo");
        assert_eq!(
            netlab_part("netlab tcp demo | head"),
            "netlab tcp demo | head"
        );
    }

    #[test]
    fn a_slip_in_the_file_is_an_error() {
        assert!(Labs::parse(ONE).is_ok());
        let failing = ONE.replacen(
            "command = \"netlab tcp demo\"",
            "command = \"netlab tcp demo\"\nexpect_error = \"refused\"\nhold_port = 9000",
            1,
        );
        assert!(Labs::parse(&failing).is_ok());
        let slips = [
            ("id = 1", "id = 2"),
            ("guide = \"labs/01-t.md\"", "guide = \"labs/t.md\""),
            (
                "hint = \"h\"\nexplain = \"e {answer}\"",
                "explain = \"e {answer}\"",
            ),
            ("answer = \"/report/x\"", "answer = \"report.x\""),
            ("ask = \"a {/report/x}\"", "ask = \"a {answer}\""),
            ("ask = \"a {/report/x}\"", "ask = \"a {/report/x\""),
            ("why = \"w\"", "why = \"w\"\nwhy_not = \"x\""),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab --json tcp demo\"",
            ),
            (
                "command = \"netlab tcp demo\"",
                "command = \"tcpdump -i lo\"",
            ),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab tcp demo {port}\"",
            ),
            ("goal = \"g\"", "goal = \"g\"\nprerequisites = [1]"),
            ("goal = \"g\"", "goal = \"g\"\nneeds_capture = true"),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab tcp demo\"\nhold_port = 9000",
            ),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab tcp demo\"\nexpect_error = \" \"",
            ),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab tcp demo\"\nexpect_error = \"x\"\nhold_port = 0",
            ),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab tcp demo | head\"",
            ),
            (
                "command = \"netlab tcp demo\"",
                "command = \"netlab capture --own-namespace -- netlab tcp demo\"\n\
                 expect_error = \"x\"",
            ),
        ];
        for (from, to) in slips {
            let text = ONE.replacen(from, to, 1);
            assert_ne!(text, ONE, "{from}");
            assert!(Labs::parse(&text).is_err(), "accepted: {to}");
        }
    }
}
