//! `netlab explain`: clap only.

use clap::Args;

/// Explain a term of the course from netlab's vocabulary (docs/vocabulary.md, built in).
///
/// You will see the term's definition, the standard that defines it (RFC section or other
/// specification), how it relates to its neighbours, the misconception it corrects, a
/// netlab command that shows it on your own machine, and the file and item in netlab's
/// source that embody it. For a protocol, its place in the OSI and TCP/IP models too.
///
/// Case, hyphens and a plural `s` do not matter, and other names work ("three-way
/// handshake", "bidirectional"). A misspelt term gets "did you mean …" suggestions.
///
/// Examples: `netlab explain socket`, `netlab explain long polling`,
/// `netlab explain --list`, `netlab explain tcp --json`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The term to explain. Several words are joined with spaces, so quotes are optional.
    #[arg(value_name = "TERM", conflicts_with = "list")]
    pub term: Vec<String>,
    /// List every term (with its other names) instead of explaining one.
    #[arg(long)]
    pub list: bool,
}
