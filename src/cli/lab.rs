//! `netlab lab`: clap only.

use clap::{Args, Subcommand};

/// Arguments of `netlab lab`.
#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// List the labs: number, title, prerequisites, whether it needs capture privilege.
    ///
    /// Example: `netlab lab list`
    List,
    /// Show one lab's plan: its guide, and each step's command and questions (without
    /// the answers, which only a run can give).
    ///
    /// Examples: `netlab lab show 1`, `netlab lab show 3 --json`
    Show(LabShowArgs),
    /// Run a lab, guided, in this terminal.
    ///
    /// Each step says what to do and why, may ask you to predict first, runs the netlab
    /// command (or asks you to run commands in other terminals and press Enter), then asks
    /// questions whose answers are what YOUR run measured, so they differ from run to run
    /// and from student to student. Type an answer and press Enter. A wrong answer gets a
    /// hint; a second wrong answer gets the explanation and the measured value, and the
    /// lab moves on. Ctrl-D stops the lab (what you answered so far is kept in `--json`).
    ///
    /// Answers are read from standard input one line each, so they can also be piped in.
    /// `--autopilot` answers every question with the measured value itself (a check that
    /// the lab and the CLI still agree). A lab that captures packets uses a live capture in
    /// a network namespace of its own when it can, and otherwise (or with `--offline`) a
    /// capture built into netlab (`netlab capture --examples`), and says so.
    ///
    /// `--json` prints the session for a grader on stdout: every step, the command as run,
    /// the measured answer, each answer given, whether it was right and how many attempts;
    /// the conversation then goes to stderr.
    ///
    /// Examples:
    ///   netlab lab run 1
    ///   netlab lab run 2 --instructor
    ///   netlab lab run 3 --offline
    ///   netlab lab run 4 --json < my-answers.txt
    ///   netlab lab run 6 --autopilot
    #[command(verbatim_doc_comment)]
    Run(LabRunArgs),
}

/// Arguments of `netlab lab show`.
#[derive(Debug, Args)]
pub struct LabShowArgs {
    /// The lab's number (see `netlab lab list`).
    #[arg(value_name = "N")]
    pub id: String,
}

/// Arguments of `netlab lab run`.
#[derive(Debug, Args)]
pub struct LabRunArgs {
    /// The lab's number (see `netlab lab list`).
    #[arg(value_name = "N")]
    pub id: String,
    /// Show each question's answer (from this run) as soon as it is asked: for the
    /// teacher at the projector.
    #[arg(long)]
    pub instructor: bool,
    /// Answer every question with the value the run measured, without reading input
    /// (tests and demonstrations).
    #[arg(long)]
    pub autopilot: bool,
    /// Use the shipped captures even where a live capture would work.
    #[arg(long)]
    pub offline: bool,
    /// The seed for steps that take one (the relay's losses), instead of a random one.
    #[arg(long)]
    pub seed: Option<u64>,
}
