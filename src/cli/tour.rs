//! `netlab tour`: arguments only (the tour is in `cmd/tour/`).

use clap::Args;

/// Arguments of `netlab tour` (the help text is on `Command::Tour`).
#[derive(Debug, Args)]
pub struct TourArgs {
    /// Smaller workloads, no pauses: the whole tour in a few seconds (for CI and a first look).
    #[arg(long, conflicts_with = "pace")]
    pub quick: bool,
    /// Wait for Enter before each chapter (for a live class). When stdin is not a terminal,
    /// or at end of input (Ctrl-D), the tour goes on without waiting. Human output only.
    #[arg(long)]
    pub pace: bool,
    /// Run only this chapter (1 to 7); repeat for several, e.g. `--chapter 1 --chapter 4`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=7))]
    pub chapter: Vec<u8>,
    /// List the chapters and what each shows, without running anything.
    #[arg(long, conflicts_with_all = ["quick", "pace", "chapter"])]
    pub list: bool,
}
