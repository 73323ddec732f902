//! Every `netlab` command shown in the TCP docs and lab must parse, and the ones that run
//! on their own (no second terminal, no network name lookup) must run and succeed.

mod common;
use clap::Parser;
use netlab::cli::Cli;
use std::time::Duration;

/// `$ netlab …` lines inside ```console blocks, cut at a pipe or redirection.
fn commands(path: &str) -> Vec<Vec<String>> {
    common::console_commands(path)
        .iter()
        .filter_map(|c| common::netlab_argv(c))
        .collect()
}

#[test]
fn every_command_in_the_tcp_docs_parses() {
    let mut n = 0;
    for path in ["docs/tcp.md", "labs/01-tcp-streams.md", "README.md"] {
        for argv in commands(path) {
            n += 1;
            if let Err(e) = Cli::try_parse_from(&argv) {
                panic!("{path}: `{}` does not parse:\n{e}", argv.join(" "));
            }
        }
    }
    assert!(
        n >= 20,
        "only {n} commands found: did the docs lose their examples?"
    );
}

#[test]
fn self_contained_commands_in_the_docs_run() {
    let mut ran = 0;
    for path in ["docs/tcp.md", "labs/01-tcp-streams.md"] {
        for argv in commands(path) {
            let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            let runs_alone = matches!(args.as_slice(), ["tcp", "demo", ..] | ["tcp", "bench", ..])
                && !args.contains(&"--to");
            if !runs_alone {
                continue;
            }
            // Shorten benchmarks: the point is that the command works as written.
            let mut args = args.clone();
            if let Some(i) = args.iter().position(|a| *a == "--seconds") {
                args[i + 1] = "0.2";
            }
            let r = common::netlab_with_limit(&args, Duration::from_secs(60));
            assert_eq!(r.code(), 0, "{path}: netlab {args:?}\n{}", r.stderr);
            ran += 1;
        }
    }
    assert!(ran >= 3, "ran {ran}");
}
