//! `netlab lab list | show N | run N`: the labs of `labs/labs.toml` (parsed and checked by
//! [`crate::labs`]), listed, shown, and run as guided sessions (`session.rs`).
//!
//! A step's command runs in-process, through the same [`crate::cmd::dispatch`] as the
//! command line, with an `Output` that prints for the student and records every report
//! and event as JSON: the answers are read from the very run the student watched. (A child
//! process with `--json` would give the answers but not the tables and diagrams the
//! student reads them from, and running the command twice would measure two different
//! runs.) A step whose commands run in other terminals is checked after Enter by the
//! sockets they leave behind (`elsewhere.rs`).

mod command;
mod elsewhere;
mod expected;
pub mod session;

use crate::cli::lab::{LabArgs, LabCommand};
use crate::cli::Cli;
use crate::error::{usage, Hinted};
use crate::labs::{netlab_part, split_command, Lab, Labs, SEED};
use crate::output::wrap::fill_on_terminal;
use crate::output::{Output, Paint, Render, Style};
use clap::Parser;
use serde::Serialize;

pub fn run(args: LabArgs, out: &mut Output) -> anyhow::Result<()> {
    let labs = load()?;
    match args.command {
        LabCommand::List => out.report(&ListReport::of(&labs))?,
        LabCommand::Show(a) => {
            let lab = pick(&labs, &a.id)?;
            out.report(&ShowReport::of(lab))?;
        }
        LabCommand::Run(a) => {
            let plan = session::Plan::new(&labs, a)?;
            session::run(plan, out)?;
        }
    }
    Ok(())
}

/// The built-in labs, with every command checked against the CLI as it is now.
pub fn load() -> anyhow::Result<Labs> {
    let labs = Labs::builtin().map_err(|e| {
        Hinted::failure(format!("netlab's built-in lab list is broken: {e}"))
            .with_hint("this is a bug in netlab's labs/labs.toml; `cargo test --test lab` shows it")
    })?;
    for lab in &labs.labs {
        for (i, step) in lab.steps.iter().enumerate() {
            let commands = step
                .command
                .iter()
                .chain(step.fallback.iter())
                .map(String::as_str)
                .chain(step.elsewhere.iter().map(|c| netlab_part(c)));
            for c in commands {
                argv(c, 1).map_err(|e| {
                    Hinted::failure(format!(
                        "lab {} step {}: `{c}` no longer parses: {e}",
                        lab.id,
                        i + 1
                    ))
                    .with_hint(
                        "labs/labs.toml has drifted from the CLI; `cargo test --test lab` shows it",
                    )
                })?;
            }
        }
    }
    Ok(labs)
}

/// A lab command's words, with `{seed}` filled in, parsed as netlab's own command line.
pub fn argv(command: &str, seed: u64) -> Result<(Vec<String>, Cli), String> {
    let words = split_command(&command.replace(SEED, &seed.to_string()))?;
    let cli = Cli::try_parse_from(&words).map_err(|e| {
        e.to_string()
            .lines()
            .next()
            .unwrap_or("does not parse")
            .to_owned()
    })?;
    if matches!(cli.command, crate::cli::Command::Lab(_)) {
        return Err("a lab step cannot run another lab".to_owned());
    }
    Ok((words, cli))
}

/// The lab numbered `id` (as the student typed it).
pub fn pick<'a>(labs: &'a Labs, id: &str) -> anyhow::Result<&'a Lab> {
    let hint = || {
        format!(
            "the labs are numbered 1 to {}; `netlab lab list` lists them",
            labs.labs.len()
        )
    };
    let n: u32 = id
        .trim()
        .parse()
        .map_err(|_| usage(format!("`{id}` is not a lab number"), hint()))?;
    labs.get(n)
        .ok_or_else(|| usage(format!("there is no lab {n}"), hint()))
}

/// One row of `netlab lab list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListRow {
    pub id: u32,
    pub title: String,
    pub guide: String,
    pub prerequisites: Vec<u32>,
    pub needs_capture: bool,
    pub steps: usize,
    pub questions: usize,
}

/// `netlab lab list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    pub labs: Vec<ListRow>,
}

impl ListReport {
    pub fn of(labs: &Labs) -> ListReport {
        ListReport {
            labs: labs
                .labs
                .iter()
                .map(|l| ListRow {
                    id: l.id,
                    title: l.title.clone(),
                    guide: l.guide.clone(),
                    prerequisites: l.prerequisites.clone(),
                    needs_capture: l.needs_capture,
                    steps: l.steps.len(),
                    questions: l.steps.iter().map(|s| s.questions.len()).sum(),
                })
                .collect(),
        }
    }
}

impl Render for ListReport {
    fn render_human(&self, style: &Style) -> String {
        let mut t = style.table();
        t.set_header(["lab", "title", "guide", "after", "capture", "questions"]);
        for r in &self.labs {
            let after = if r.prerequisites.is_empty() {
                "-".to_owned()
            } else {
                r.prerequisites
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            t.add_row([
                r.id.to_string(),
                r.title.clone(),
                r.guide.clone(),
                after,
                if r.needs_capture {
                    "live, or shipped file".to_owned()
                } else {
                    "no".to_owned()
                },
                r.questions.to_string(),
            ]);
        }
        format!("{t}\nRun one with `netlab lab run N`; `netlab lab show N` shows its steps first.")
    }
}

/// One step, as `netlab lab show` gives it (questions without answers).
#[derive(Debug, Clone, Serialize)]
pub struct ShownStep {
    pub title: String,
    #[serde(rename = "do")]
    pub what: String,
    pub why: String,
    pub predict: Option<String>,
    pub command: Option<String>,
    pub fallback: Option<String>,
    pub elsewhere: Vec<String>,
    /// For a command expected to fail: the words its error must contain.
    pub expect_error: Option<String>,
    /// The questions, with the parts a run fills in shown as `…`.
    pub questions: Vec<String>,
}

/// `netlab lab show N`.
#[derive(Debug, Clone, Serialize)]
pub struct ShowReport {
    pub id: u32,
    pub title: String,
    pub guide: String,
    pub goal: String,
    pub prerequisites: Vec<u32>,
    pub needs_capture: bool,
    pub steps: Vec<ShownStep>,
}

/// A text with its `{...}` placeholders shown as `…` (no run has filled them yet).
pub fn outline(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push('…');
        rest = rest[open..].find('}').map_or("", |c| &rest[open + c + 1..]);
    }
    out.push_str(rest);
    out
}

impl ShowReport {
    pub fn of(lab: &Lab) -> ShowReport {
        ShowReport {
            id: lab.id,
            title: lab.title.clone(),
            guide: lab.guide.clone(),
            goal: lab.goal.clone(),
            prerequisites: lab.prerequisites.clone(),
            needs_capture: lab.needs_capture,
            steps: lab
                .steps
                .iter()
                .map(|s| ShownStep {
                    title: s.title.clone(),
                    what: s.what.clone(),
                    why: s.why.clone(),
                    predict: s.predict.clone(),
                    command: s.command.as_deref().map(|c| c.replace(SEED, "N")),
                    fallback: s.fallback.clone(),
                    elsewhere: s.elsewhere.clone(),
                    expect_error: s.expect_error.clone(),
                    questions: s.questions.iter().map(|q| outline(&q.ask)).collect(),
                })
                .collect(),
        }
    }
}

impl Render for ShowReport {
    fn render_human(&self, style: &Style) -> String {
        // Prose is wrapped to the terminal (whole lines in a pipe); commands never are.
        let fill = |text: &str, indent| fill_on_terminal(text, style, indent);
        let mut s = style.paint(Paint::Bold, format!("Lab {}: {}", self.id, self.title));
        s.push_str(&format!(
            "\n{}\nGuide: {}\n",
            fill(&self.goal, ""),
            self.guide
        ));
        if !self.prerequisites.is_empty() {
            let p: Vec<String> = self
                .prerequisites
                .iter()
                .map(|n| format!("lab {n}"))
                .collect();
            s.push_str(&format!("Do first: {}\n", p.join(", ")));
        }
        if self.needs_capture {
            s.push_str(&fill(
                "Captures packets: live in a network namespace of its own when it can \
                 (root, or user namespaces), otherwise from the capture built into netlab.",
                "",
            ));
            s.push('\n');
        }
        for (i, st) in self.steps.iter().enumerate() {
            s.push_str(&format!(
                "\n{}\n{}\n{}\n",
                style.paint(Paint::Bold, format!("Step {}: {}", i + 1, st.title)),
                fill(&st.what, "  "),
                fill(&format!("Why: {}", st.why), "  ")
            ));
            for c in &st.elsewhere {
                s.push_str(&format!("  in another terminal: $ {c}\n"));
            }
            if let Some(c) = &st.command {
                s.push_str(&format!("  runs: $ {c}\n"));
            }
            if let Some(e) = &st.expect_error {
                s.push_str(&format!(
                    "  expected to fail, with an error about \"{e}\"\n"
                ));
            }
            if let Some(c) = &st.fallback {
                s.push_str(&format!("  without capture privilege: $ {c}\n"));
            }
            if let Some(p) = &st.predict {
                s.push_str(&fill(&format!("predict: {p}"), "  "));
                s.push('\n');
            }
            for q in &st.questions {
                s.push_str(&fill(&format!("? {q}"), "  "));
                s.push('\n');
            }
        }
        s.push_str(&format!(
            "\nThe answers come from your own run: `netlab lab run {}`.",
            self.id
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_command_parses() {
        load().unwrap();
    }

    #[test]
    fn outline_hides_what_a_run_fills_in() {
        assert_eq!(
            outline("seq {/report/a}, ack {/report/b}?"),
            "seq …, ack …?"
        );
        assert_eq!(outline("no placeholder"), "no placeholder");
    }

    #[test]
    fn lab_numbers_are_checked() {
        let labs = load().unwrap();
        assert_eq!(pick(&labs, "1").unwrap().id, 1);
        assert_eq!(pick(&labs, " 2 ").unwrap().id, 2);
        assert!(pick(&labs, "0").is_err());
        assert!(pick(&labs, "99").is_err());
        assert!(pick(&labs, "one").is_err());
    }
}
