//! `netlab lab run N`: one guided session.
//!
//! For each step: say what to do and why; wait while the student runs commands in other
//! terminals (if the step has any); ask for a prediction; run the step's command
//! in-process (for a capture lab: live in a namespace of its own, or the shipped capture);
//! then ask each question, whose answer is read from that run's recorded report. Two
//! attempts: after the first wrong answer the hint, after the second the explanation with
//! the measured value. Answers are lines on stdin (a terminal or a pipe); `--autopilot`
//! answers with the measured values instead.

use super::command::run_step;
use super::{elsewhere, expected, pick};
use crate::cli::lab::LabRunArgs;
use crate::error::{usage, Hinted};
use crate::labs::{fill, Lab, Labs, Question, Verdict};
use crate::output::wrap::{fill_labelled, fill_on_terminal};
use crate::output::{Format, Output, Paint, Render, Style};
use serde::Serialize;
use serde_json::Value;
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
    /// What the questions were asked about (the command's report), for a grader to check.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub report: Value,
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
            report: Value::Null,
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
            if !step.questions.is_empty() {
                rec.report = doc.clone();
            }
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
