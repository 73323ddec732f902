//! Every command that `docs/http-vs-websocket.md` and `labs/06-http-vs-websocket.md` show
//! must work: each `netlab` command parses, and each is run except the plain default
//! comparison and the root-only capture (tests/compare.rs and tests/compare_capture.rs
//! run those).

mod common;

use clap::Parser;
use common::{console_commands, netlab};

const FILES: [&str; 2] = ["docs/http-vs-websocket.md", "labs/06-http-vs-websocket.md"];

#[test]
fn every_command_in_the_guides_parses_and_runs() {
    let svg = std::env::temp_dir().join(format!("netlab-compare-docs-{}.svg", std::process::id()));
    let mut ran = 0;
    let mut seen = std::collections::HashSet::new();
    for file in FILES {
        let cmds = console_commands(file);
        assert!(!cmds.is_empty(), "{file} shows no commands");
        for cmd in cmds {
            let cmd = cmd.strip_prefix("sudo ").unwrap_or(&cmd).to_owned();
            assert!(
                cmd.starts_with("netlab compare"),
                "{file}: unexpected `{cmd}`"
            );
            let argv: Vec<&str> = cmd.split_whitespace().collect();
            if let Err(e) = netlab::cli::Cli::try_parse_from(&argv) {
                panic!("{file}: `{cmd}` does not parse:\n{e}");
            }
            if cmd == "netlab compare" || cmd.contains("--capture") || !seen.insert(cmd.clone()) {
                continue;
            }
            let live = cmd.replace("compare.svg", svg.to_str().unwrap());
            let args: Vec<&str> = live.split_whitespace().skip(1).collect();
            let r = netlab(&args);
            assert_eq!(r.code(), 0, "{file}: `{cmd}` failed:\n{}", r.stderr);
            assert!(!r.stdout.is_empty(), "{file}: `{cmd}` printed nothing");
            ran += 1;
        }
    }
    let _ = std::fs::remove_file(&svg);
    assert!(ran >= 5, "only {ran} commands ran");
}

/// The compare table shown in docs/questions.md has the rows a live run of the same
/// command prints (labels only: the numbers change on every run).
#[test]
fn the_compare_sample_in_the_questions_has_the_rows_of_a_live_run() {
    let page = std::fs::read_to_string("docs/questions.md").unwrap();
    let cmd = "netlab compare --direction both --events 5 --only long-poll,ws";
    let at = page
        .find(&format!("$ {cmd}\n"))
        .expect("docs/questions.md shows the compare run");
    let shown = &page[at..page[at..].find("\n```").map(|e| at + e).unwrap()];
    let labels = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with('│'))
            .filter_map(|l| l.split('┆').next())
            .map(|c| c.trim_start_matches('│').trim().to_owned())
            .filter(|c| !c.is_empty())
            .collect()
    };
    let argv: Vec<&str> = cmd.split_whitespace().skip(1).collect();
    let live = netlab(&argv);
    assert_eq!(live.code(), 0, "{}", live.stderr);
    let want = labels(&live.stdout);
    assert!(want.len() > 20, "{}", live.stdout);
    assert_eq!(labels(shown), want, "docs/questions.md shows other rows");
}
