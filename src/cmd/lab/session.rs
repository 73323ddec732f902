//! `netlab lab run N`: one guided session.
//!
//! For each step: say what to do and why; wait while the student runs commands in other
//! terminals (if the step has any); ask for a prediction; run the step's command
//! in-process (for a capture lab: live in a namespace of its own, or the shipped capture);
//! then ask each question, whose answer is read from that run's recorded report. Two
//! attempts: after the first wrong answer the hint, after the second the explanation with
//! the measured value. Answers are lines on stdin (a terminal or a pipe); `--autopilot`
//! answers with the measured values instead.

use super::{argv, elsewhere, expected, pick};
use crate::cli::lab::LabRunArgs;
use crate::error::{usage, Hinted};
use crate::labs::{fill, Lab, Labs, Question, Verdict};
use crate::output::wrap::{fill_labelled, fill_on_terminal};
use crate::output::{Format, Output, Paint, Render, Style};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{self, BufRead};

/// Attempts per question: the hint comes after the first wrong one, the explanation after
/// the last.
pub const ATTEMPTS: usize = 2;

/// Where the answers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Lines typed (or piped) on stdin.
    Stdin,
    /// The measured values themselves.
    Autopilot,
}

/// A validated `netlab lab run`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub lab: Lab,
    pub mode: Mode,
    pub instructor: bool,
    pub offline: bool,
    /// For labs whose commands take `{seed}`.
    pub seed: Option<u64>,
    /// With `--json`/`--jsonl` the record goes to stdout, so the conversation (and the
    /// commands' own output) goes to stderr. Set by [`run_with_input`].
    pub narrate_to_stderr: bool,
}

impl Plan {
    pub fn new(labs: &Labs, a: LabRunArgs) -> anyhow::Result<Plan> {
        let lab = pick(labs, &a.id)?.clone();
        if a.offline && !lab.needs_capture {
            return Err(usage(
                format!(
                    "lab {} captures nothing, so --offline changes nothing",
                    lab.id
                ),
                "drop --offline (it is for labs 3 and 5, which read shipped captures without it \
                 when they cannot capture)",
            ));
        }
        let uses_seed = lab.steps.iter().any(|s| {
            s.command
                .as_deref()
                .is_some_and(|c| c.contains(crate::labs::SEED))
        });
        let seed = match a.seed {
            Some(0) => return Err(usage("--seed 0", "give a seed of 1 or more")),
            Some(_) if !uses_seed => {
                return Err(usage(
                    format!("lab {} takes no seed", lab.id),
                    "drop --seed (lab 2's relay is the one that takes a seed)",
                ))
            }
            Some(s) => Some(s),
            None => uses_seed.then(random_seed),
        };
        Ok(Plan {
            lab,
            mode: if a.autopilot {
                Mode::Autopilot
            } else {
                Mode::Stdin
            },
            instructor: a.instructor,
            offline: a.offline,
            seed,
            narrate_to_stderr: false,
        })
    }
}

/// 1 to 9999: short enough to read out in class.
fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 1 + u64::from(std::process::id()) % 9999;
    }
    1 + u64::from_le_bytes(b) % 9999
}

/// One answer given.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub answer: String,
    pub verdict: Verdict,
}

/// One question, as asked and answered.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionRecord {
    /// The question with this run's values filled in.
    pub ask: String,
    /// Where in the run's report the answer is.
    pub pointer: String,
    /// What this run measured there: the correct answer.
    pub measured: String,
    pub attempts: Vec<Attempt>,
    pub correct: bool,
    pub hint_shown: bool,
    pub explanation_shown: bool,
}

/// One step, as run.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub step: usize,
    pub title: String,
    /// The command as run (`{seed}` filled in), if the step has one.
    pub command: Option<String>,
    /// `live` (the command itself), `shipped_capture` (the fallback), or `none`.
    pub source: Source,
    /// Why the shipped capture was used instead of a live one.
    pub note: Option<String>,
    pub elsewhere: Vec<String>,
    /// Whether netlab saw the other-terminal commands' sockets (TCP steps, interactive
    /// runs); what it saw, in `ss` state names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elsewhere_seen: Option<String>,
    pub prediction: Option<String>,
    /// For a step whose command is expected to fail: its error message, as printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    pub questions: Vec<QuestionRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Live,
    ShippedCapture,
    None,
}

/// The session, for a grader (`--json`) and for the closing line.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub lab: u32,
    pub title: String,
    pub guide: String,
    /// The seed the commands ran with (for labs that take one).
    pub seed: Option<u64>,
    pub mode: Mode,
    pub instructor: bool,
    pub steps: Vec<StepRecord>,
    pub questions: usize,
    pub correct: usize,
    pub correct_first_try: usize,
    /// False when input ended (Ctrl-D) before the last question.
    pub completed: bool,
}

impl Render for Session {
    fn render_human(&self, style: &Style) -> String {
        let answered: usize = self.steps.iter().map(|s| s.questions.len()).sum();
        let head = if self.completed {
            format!("Lab {} done", self.lab)
        } else {
            format!(
                "Lab {} stopped after {answered} of {} questions",
                self.lab, self.questions
            )
        };
        let seed = self
            .seed
            .map(|s| format!(" Seed {s}: `--seed {s}` repeats its random choices."))
            .unwrap_or_default();
        format!(
            "\n{}: {} of {} right ({} at the first try).{seed}\n\
             Every answer came from your own run; run it again and they change.",
            style.paint(Paint::Bold, head),
            self.correct,
            self.questions,
            self.correct_first_try,
        )
    }
}

/// What the session says as it goes (printed for people; folded into the session with
/// `--json`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Say {
    Start {
        lab: u32,
        title: String,
        goal: String,
        guide: String,
        seed: Option<u64>,
    },
    Step {
        step: usize,
        of: usize,
        title: String,
        what: String,
        why: String,
    },
    Elsewhere {
        commands: Vec<String>,
        wait: bool,
    },
    Predict {
        text: String,
    },
    Run {
        command: String,
    },
    Notice {
        text: String,
    },
    /// A step's command failed, as the step expected: its error as the command line
    /// prints it.
    Failed {
        error: String,
        hint: Option<String>,
        exit_code: u8,
    },
    Ask {
        question: usize,
        text: String,
    },
    Instructor {
        answer: String,
    },
    Right {
        answer: String,
    },
    Hint {
        text: String,
        not_a_number: bool,
    },
    Explain {
        text: String,
        measured: String,
        /// Whether `text` already says the measured value.
        states_it: bool,
    },
    /// The end: the guide's questions that no step checked (`reading` in labs.toml).
    Reading {
        guide: String,
        questions: Vec<u32>,
    },
}

impl Render for Say {
    fn render_human(&self, style: &Style) -> String {
        match self {
            Say::Start {
                lab,
                title,
                goal,
                guide,
                seed,
            } => format!(
                "{}\n{}\nGuide: {guide} (read it beside this).{}\n\
                 Answer each question with what YOUR run shows, then press Enter. Ctrl-D stops.",
                style.paint(Paint::Bold, format!("Lab {lab}: {title}")),
                fill_on_terminal(goal, style, ""),
                seed.map(|s| format!(" Seed for this session: {s}."))
                    .unwrap_or_default()
            ),
            Say::Step {
                step,
                of,
                title,
                what,
                why,
            } => format!(
                "\n{}\n{}\n{}",
                style.paint(Paint::Bold, format!("Step {step} of {of}: {title}")),
                fill_on_terminal(what, style, ""),
                fill_labelled("Why:", Paint::Dim, why, style)
            ),
            Say::Elsewhere { commands, wait } => {
                let mut s = String::from("In other terminals, run:");
                for c in commands {
                    s.push_str(&format!("\n  $ {c}"));
                }
                if *wait {
                    s.push_str("\nPress Enter when you have done it.");
                }
                s
            }
            Say::Predict { text } => format!(
                "{}\n(Type your prediction and press Enter; it is recorded, not marked.)",
                fill_labelled("Predict first:", Paint::Warn, text, style)
            ),
            Say::Run { command } => style.paint(Paint::Dim, format!("$ {command}")),
            Say::Notice { text } => fill_labelled("note:", Paint::Warn, text, style),
            Say::Failed {
                error,
                hint,
                exit_code,
            } => failed(error, hint.as_deref(), *exit_code, style),
            Say::Ask { question, text } => {
                fill_labelled(&format!("Q{question}."), Paint::Bold, text, style)
            }
            Say::Reading { guide, questions } => reading(guide, questions, style),
            Say::Instructor { answer } => style.paint(
                Paint::Dim,
                format!("(instructor: the answer from this run is {answer})"),
            ),
            Say::Right { answer } => style.paint(
                Paint::Good,
                format!("Right: {answer}, as your run measured."),
            ),
            Say::Hint { text, not_a_number } => {
                let lead = if *not_a_number {
                    "Not a number. Hint:"
                } else {
                    "Not quite. Hint:"
                };
                format!("{} {text}\nTry again:", style.paint(Paint::Warn, lead))
            }
            Say::Explain {
                text,
                measured,
                states_it,
            } => {
                let lead = style.paint(Paint::Bad, "Not this time.");
                if *states_it {
                    format!("{lead} {text}")
                } else {
                    format!("{lead} Your run measured {measured}. {text}")
                }
            }
        }
    }
}

/// Input ended before the lab did.
struct InputEnded;

/// The next answer line: `Ok(None)` at end of input.
/// Wait for Enter after the other-terminal commands, then check them where netlab can
/// (`check_elsewhere`): what was seen, `None` when their port is not one netlab checks.
fn wait_for_elsewhere(
    out: &mut Output,
    input: &mut dyn BufRead,
    commands: &[String],
) -> anyhow::Result<Result<Option<String>, InputEnded>> {
    out.data(b"> ")?;
    if read_line(input)?.is_none() {
        return Ok(Err(InputEnded));
    }
    let Some(port) = elsewhere::tcp_port(commands) else {
        return Ok(Ok(None));
    };
    Ok(check_elsewhere(out, input, port)?.map(Some))
}

/// After Enter: look for the sockets the other-terminal commands leave on `port`; if
/// there are none, say so and let the student run them and press Enter once more. Returns
/// what was seen ("" when nothing, and the lab carries on).
fn check_elsewhere(
    out: &mut Output,
    input: &mut dyn BufRead,
    port: u16,
) -> anyhow::Result<Result<String, InputEnded>> {
    for attempt in 0..2 {
        let seen = elsewhere::seen(port);
        if !seen.is_empty() {
            out.event(&Say::Notice {
                text: format!(
                    "checked: netlab sees TCP sockets on port {port} of this machine ({seen})"
                ),
            })?;
            return Ok(Ok(seen));
        }
        if attempt == 0 {
            out.event(&Say::Notice {
                text: format!(
                    "netlab sees no TCP socket on port {port} of this machine: run the \
                     commands above (a closed connection stays visible in TIME-WAIT for a \
                     minute), then press Enter"
                ),
            })?;
            out.data(b"> ")?;
            if read_line(input)?.is_none() {
                return Ok(Err(InputEnded));
            }
        }
    }
    out.event(&Say::Notice {
        text: format!("still nothing on port {port}: carrying on, with this step unchecked"),
    })?;
    Ok(Ok(String::new()))
}

/// An expected failure, as the command line prints it, and that it was expected.
fn failed(error: &str, hint: Option<&str>, exit_code: u8, style: &Style) -> String {
    let mut s = fill_labelled("error:", Paint::Bad, error, style);
    if let Some(h) = hint {
        s.push('\n');
        s.push_str(&fill_labelled("hint:", Paint::Dim, h, style));
    }
    s.push_str(&format!(
        "\n(exit code {exit_code}: the command failed, as this step expects)"
    ));
    s
}

/// The closing line that names the guide's questions this run did not check.
fn reading(guide: &str, questions: &[u32], style: &Style) -> String {
    let n: Vec<String> = questions.iter().map(u32::to_string).collect();
    let text = format!(
        "questions {} of {guide} are not checked by this run: the guide marks each, as a \
         question to answer in words or as one that something this run cannot see answers \
         (your other terminals, a browser, root). Answer them from the guide (its \
         instructors' section has the answers).",
        n.join(", ")
    );
    format!(
        "\n{}",
        fill_labelled("Reading questions:", Paint::Bold, &text, style)
    )
}

fn read_line(input: &mut dyn BufRead) -> anyhow::Result<Option<String>> {
    let mut line = String::new();
    // Bounded: one line of at most a few kilobytes is an answer; more is a pasted file.
    let n = io::Read::take(input, 4096)
        .read_line(&mut line)
        .map_err(|e| Hinted::failure(format!("could not read your answer: {e}")))?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// Run the session against the process's stdin.
pub fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    run_with_input(plan, out, &mut lock)
}

/// Run the session, reading answers from `input`.
pub fn run_with_input(
    mut plan: Plan,
    out: &mut Output,
    input: &mut dyn BufRead,
) -> anyhow::Result<()> {
    plan.narrate_to_stderr = out.format() != Format::Human;
    // People read the conversation; with --json it goes to stderr beside the record.
    let mut side = plan.narrate_to_stderr.then(|| {
        Output::new(
            Format::Human,
            out.style().clone(),
            Box::new(io::stderr()),
            Box::new(io::stderr()),
        )
    });
    let lab = &plan.lab;
    let questions = lab.steps.iter().map(|s| s.questions.len()).sum();
    let mut session = Session {
        lab: lab.id,
        title: lab.title.clone(),
        guide: lab.guide.clone(),
        seed: plan.seed,
        mode: plan.mode,
        instructor: plan.instructor,
        steps: Vec::new(),
        questions,
        correct: 0,
        correct_first_try: 0,
        completed: false,
    };
    let outcome = {
        let talk: &mut Output = match side.as_mut() {
            Some(s) => s,
            None => &mut *out,
        };
        talk.event(&Say::Start {
            lab: lab.id,
            title: lab.title.clone(),
            goal: lab.goal.clone(),
            guide: lab.guide.clone(),
            seed: plan.seed,
        })?;
        let outcome = steps(&plan, talk, input, &mut session);
        if matches!(outcome, Ok(Ok(()))) && !lab.reading.is_empty() {
            talk.event(&Say::Reading {
                guide: lab.guide.clone(),
                questions: lab.reading.clone(),
            })?;
        }
        if matches!(outcome, Ok(Err(InputEnded))) {
            // End the prompt's line, so the closing lines start on their own.
            talk.data(b"\n")?;
        }
        outcome
    };
    match outcome {
        Ok(Ok(())) => {
            session.completed = true;
            out.report(&session)?;
            Ok(())
        }
        Ok(Err(InputEnded)) => {
            let at = session.steps.len();
            out.report(&session)?;
            Err(Hinted::failure(format!(
                "input ended (Ctrl-D) in step {at} of {} of lab {}, before the last question",
                lab.steps.len(),
                lab.id
            ))
            .with_hint(format!(
                "run `netlab lab run {}` again to start over (the answers will be new); \
                 piped answers are read one per line",
                lab.id
            ))
            .into())
        }
        Err(e) => Err(e),
    }
}

fn steps(
    plan: &Plan,
    out: &mut Output,
    input: &mut dyn BufRead,
    session: &mut Session,
) -> anyhow::Result<Result<(), InputEnded>> {
    let lab = &plan.lab;
    let of = lab.steps.len();
    let interactive = plan.mode == Mode::Stdin;
    for (i, step) in lab.steps.iter().enumerate() {
        out.event(&Say::Step {
            step: i + 1,
            of,
            title: step.title.clone(),
            what: step.what.clone(),
            why: step.why.clone(),
        })?;
        session.steps.push(StepRecord {
            step: i + 1,
            title: step.title.clone(),
            command: None,
            source: Source::None,
            note: None,
            elsewhere: step.elsewhere.clone(),
            elsewhere_seen: None,
            prediction: None,
            failed: None,
            questions: Vec::new(),
        });
        if !step.elsewhere.is_empty() {
            out.event(&Say::Elsewhere {
                commands: step.elsewhere.clone(),
                wait: interactive,
            })?;
            if interactive {
                match wait_for_elsewhere(out, input, &step.elsewhere)? {
                    Ok(seen) => session.steps[i].elsewhere_seen = seen,
                    Err(ended) => return Ok(Err(ended)),
                }
            }
        }
        let Some(command) = &step.command else {
            continue;
        };
        if let Some(p) = &step.predict {
            out.event(&Say::Predict { text: p.clone() })?;
            if interactive {
                out.data(b"> ")?;
                match read_line(input)? {
                    Some(line) => session.steps[i].prediction = Some(line),
                    None => return Ok(Err(InputEnded)),
                }
            }
        }
        let (doc, shown, source, note) = match &step.expect_error {
            Some(want) => expected::run(plan, out, command, want, step.hold_port)?,
            None => run_step(plan, out, command, step.fallback.as_deref())?,
        };
        {
            let rec = &mut session.steps[i];
            rec.command = Some(shown);
            rec.source = source;
            rec.note = note;
            rec.failed = doc["error"]["message"].as_str().map(str::to_owned);
        }
        if let Err(ended) = ask_questions(plan, out, input, session, i, &step.questions, &doc)? {
            return Ok(Err(ended));
        }
    }
    Ok(Ok(()))
}

/// The questions of step `i` (counted from 0), asked about the report `doc` that its
/// command just produced, each answer recorded in `session`.
fn ask_questions(
    plan: &Plan,
    out: &mut Output,
    input: &mut dyn BufRead,
    session: &mut Session,
    i: usize,
    questions: &[Question],
    doc: &Value,
) -> anyhow::Result<Result<(), InputEnded>> {
    let lab = &plan.lab;
    for (k, q) in questions.iter().enumerate() {
        let drift = |e: crate::labs::LabsError| -> anyhow::Error {
            Hinted::failure(format!(
                "lab {} step {} question {}: {e}",
                lab.id,
                i + 1,
                k + 1
            ))
            .with_hint("the lab and the command's report have drifted apart: this is a bug in labs/labs.toml")
            .into()
        };
        let measured = q.measure(doc).map_err(drift)?;
        let ask = fill(&q.ask, doc, None).map_err(drift)?;
        out.event(&Say::Ask {
            question: k + 1,
            text: ask.clone(),
        })?;
        if plan.instructor {
            out.event(&Say::Instructor {
                answer: measured.clone(),
            })?;
        }
        let record = match ask_one(plan, out, input, q, doc, &measured, drift)? {
            Ok(attempts) => attempts,
            Err(InputEnded) => return Ok(Err(InputEnded)),
        };
        let correct = record.iter().any(|a| a.verdict == Verdict::Right);
        if correct {
            session.correct += 1;
            if record.len() == 1 {
                session.correct_first_try += 1;
            }
        }
        session.steps[i].questions.push(QuestionRecord {
            ask,
            pointer: q.answer.clone(),
            measured,
            hint_shown: record.len() > 1,
            explanation_shown: !correct,
            correct,
            attempts: record,
        });
    }
    Ok(Ok(()))
}

/// Ask until right or out of attempts.
fn ask_one(
    plan: &Plan,
    out: &mut Output,
    input: &mut dyn BufRead,
    q: &Question,
    doc: &Value,
    measured: &str,
    drift: impl Fn(crate::labs::LabsError) -> anyhow::Error,
) -> anyhow::Result<Result<Vec<Attempt>, InputEnded>> {
    let mut attempts = Vec::new();
    for n in 1..=ATTEMPTS {
        let answer = match plan.mode {
            Mode::Autopilot => measured.to_owned(),
            Mode::Stdin => {
                out.data(b"> ")?;
                match read_line(input)? {
                    Some(a) => a,
                    None => return Ok(Err(InputEnded)),
                }
            }
        };
        let verdict = q.check(measured, &answer);
        attempts.push(Attempt {
            answer: answer.clone(),
            verdict,
        });
        if verdict == Verdict::Right {
            out.event(&Say::Right { answer })?;
            break;
        }
        if n < ATTEMPTS {
            out.event(&Say::Hint {
                text: fill(&q.hint, doc, None).map_err(&drift)?,
                not_a_number: verdict == Verdict::NotANumber,
            })?;
        } else {
            out.event(&Say::Explain {
                text: fill(&q.explain, doc, Some(measured)).map_err(&drift)?,
                measured: measured.to_owned(),
                states_it: q.explain.contains("{answer}"),
            })?;
        }
    }
    Ok(Ok(attempts))
}

/// Run a step's command (or, for a capture that cannot be live, its fallback) and return
/// what it recorded as `{"report": ..., "events": [...]}`, the command as shown, where the
/// packets came from, and why the fallback was used.
fn run_step(
    plan: &Plan,
    out: &mut Output,
    command: &str,
    fallback: Option<&str>,
) -> anyhow::Result<(Value, String, Source, Option<String>)> {
    let shown = command.replace(crate::labs::SEED, &plan.seed.unwrap_or(1).to_string());
    if let Some(fb) = fallback {
        if plan.offline {
            let note = format!(
                "--offline: reading the capture shipped with netlab instead of capturing live \
                 (`{shown}`); its numbers are the same for every student"
            );
            return shipped(plan, out, fb, note);
        }
    }
    out.event(&Say::Run {
        command: shown.clone(),
    })?;
    match in_process(plan, out, command) {
        Ok(doc) => Ok((doc, shown, Source::Live, None)),
        Err(e) => {
            let Some(fb) = fallback else {
                return Err(e.context(Hinted::failure(format!(
                    "lab {}: the step's command `{shown}` failed",
                    plan.lab.id
                ))));
            };
            let why = crate::output::describe_fatal(&e)
                .map(|f| f.message)
                .unwrap_or_else(|| e.to_string());
            let note = format!(
                "no live capture here ({why}); reading the capture shipped with netlab instead, \
                 so its numbers are the same for every student. With root, or where user \
                 namespaces are allowed, this step captures your own packets"
            );
            shipped(plan, out, fb, note)
        }
    }
}

fn shipped(
    plan: &Plan,
    out: &mut Output,
    fallback: &str,
    note: String,
) -> anyhow::Result<(Value, String, Source, Option<String>)> {
    out.event(&Say::Notice { text: note.clone() })?;
    out.event(&Say::Run {
        command: fallback.to_owned(),
    })?;
    let doc = in_process(plan, out, fallback).map_err(|e| {
        e.context(
            Hinted::failure(format!("lab {}: `{fallback}` failed", plan.lab.id)).with_hint(
                "the shipped captures are built into netlab (`netlab capture --examples`); \
                 labs/labs.toml may name one that is not: `cargo test --test lab` shows it",
            ),
        )
    })?;
    Ok((doc, fallback.to_owned(), Source::ShippedCapture, Some(note)))
}

/// Run one netlab command in this process: shown to the student as usual (human format),
/// recorded as JSON for the questions.
fn in_process(plan: &Plan, out: &Output, command: &str) -> anyhow::Result<Value> {
    let (words, cli) = argv(command, plan.seed.unwrap_or(1)).map_err(|e| {
        Hinted::failure(format!("`{command}`: {e}"))
            .with_hint("labs/labs.toml has drifted from the CLI; `cargo test --test lab` shows it")
    })?;
    if words.iter().any(|w| w == "--own-namespace") {
        return in_child(plan, out, &words);
    }
    let (doc, outcome) = recorded(plan, out, cli);
    outcome.map(|()| doc)
}

/// Run a parsed command in this process; what it recorded (as [`document`]) whether it
/// succeeded or not, and how it ended. A command that fails may have reported first
/// (`udp send` reports its datagrams, then fails on the ICMP error).
pub(super) fn recorded(
    plan: &Plan,
    out: &Output,
    cli: crate::cli::Cli,
) -> (Value, anyhow::Result<()>) {
    let stdout: Box<dyn io::Write + Send> = if plan.narrate_to_stderr {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    let stderr: Box<dyn io::Write + Send> = Box::new(io::stderr());
    let mut inner = Output::new(Format::Human, out.style().clone(), stdout, stderr);
    inner.record();
    let outcome = crate::cmd::dispatch(cli.command, &mut inner);
    let rec = inner.take_recorded().unwrap_or_default();
    let doc = document(
        rec.reports.last().cloned().unwrap_or(Value::Null),
        rec.events,
    );
    (doc, outcome)
}

/// Run a capture in a namespace of its own as a child netlab: the capture happens in a
/// re-run of netlab inside the namespace, so its report comes back through
/// [`crate::cmd::RECORD_ENV`], one JSON line per netlab process; the capture's is the
/// line of the `capture` command.
fn in_child(plan: &Plan, out: &Output, words: &[String]) -> anyhow::Result<Value> {
    use std::process::{Command, Stdio};
    let me = std::env::current_exe()
        .map_err(|e| Hinted::failure(format!("could not find netlab's own path: {e}")))?;
    let mut args: Vec<String> = words[1..].to_vec();
    // The command after `--` is this netlab too.
    if let Some(dash) = args.iter().position(|w| w == "--") {
        if args.get(dash + 1).map(String::as_str) == Some("netlab") {
            args[dash + 1] = me.to_string_lossy().into_owned();
        }
    }
    let record = std::env::temp_dir().join(format!(
        "netlab-lab-{}-{}.jsonl",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let mut child = Command::new(&me);
    child
        .args(&args)
        .env(crate::cmd::RECORD_ENV, &record)
        .stdin(Stdio::null());
    if !out.style().color {
        child.env("NO_COLOR", "1");
    }
    child
        .stdout(if plan.narrate_to_stderr {
            Stdio::from(io::stderr())
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::piped());
    let result = child
        .output()
        .map_err(|e| Hinted::failure(format!("could not run netlab again: {e}")));
    let text = std::fs::read_to_string(&record).unwrap_or_default();
    let _ = std::fs::remove_file(&record);
    let o = result?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let why = err
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or("see the messages above")
            .to_owned();
        return Err(Hinted::failure(why).into());
    }
    let line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|v| v["command"] == "capture")
        .ok_or_else(|| Hinted::failure("the capture reported nothing"))?;
    let report = line["reports"]
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or(Value::Null);
    let events = line["events"].as_array().cloned().unwrap_or_default();
    Ok(document(report, events))
}

/// What questions point into: the command's last report, its events, and (for a
/// capture) just the packet events, so `/packets/0` is the first packet whether or not
/// a live capture first said it had started.
pub fn document(report: Value, events: Vec<Value>) -> Value {
    let packets: Vec<Value> = events
        .iter()
        .filter(|e| e.get("captured_len").is_some())
        .cloned()
        .collect();
    json!({"report": report, "events": events, "packets": packets})
}
