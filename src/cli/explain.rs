//! `netlab explain`: clap only.

use clap::Args;

/// Arguments of `netlab explain` (the help text is on `Command::Explain`).
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The term to explain. Several words are joined with spaces, so quotes are optional.
    #[arg(value_name = "TERM", conflicts_with = "list")]
    pub term: Vec<String>,
    /// List every term (with its other names) instead of explaining one.
    #[arg(long)]
    pub list: bool,
}
