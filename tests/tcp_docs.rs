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

/// What a `echo TEXT |` or `printf 'TEXT' |` before netlab writes to its stdin.
fn piped_input(line: &str) -> Option<String> {
    let (left, _) = line.split_once(" | netlab ")?;
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
    if let Some(text) = left.strip_prefix("echo ") {
        return Some(format!("{}\n", unquote(text)));
    }
    let text = left.strip_prefix("printf ")?;
    Some(unquote(text).replace("\\r", "\r").replace("\\n", "\n"))
}

/// Every listener and client the TCP docs and lab 1 show is run as shown, on a port the
/// kernel picks instead of 9000: each `tcp connect` against the listener the page started
/// before it (with what the page pipes into it), `connect 127.0.0.1:9` must be refused
/// with a hint, and a listener with `--reuseaddr` (or one no client follows) must fail on
/// a port another listener holds (lab 1 step 6).
#[test]
fn every_listener_and_client_in_the_tcp_docs_runs() {
    use common::{netlab_with_stdin, with_flag, Background};
    let limit = Duration::from_secs(20);
    let mut ran = 0;
    for path in ["docs/tcp.md", "labs/01-tcp-streams.md"] {
        let lines = common::console_commands(path);
        let mut listen: Option<Vec<String>> = None;
        let mut used = true;
        for line in &lines {
            let Some(argv) = common::netlab_argv(line) else {
                continue;
            };
            let args: Vec<String> = argv[1..].to_vec();
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            match a.as_slice() {
                ["tcp", "listen", ..] => {
                    if !used {
                        unused_listener(path, listen.as_ref().unwrap());
                        ran += 1;
                    }
                    if a.contains(&"--reuseaddr") {
                        // Lab 1 step 6: run while another listener holds the port.
                        unused_listener(path, &args);
                        ran += 1;
                    }
                    listen = Some(args.clone());
                    used = false;
                }
                ["tcp", "connect", "127.0.0.1:9", ..] => {
                    let r = common::netlab(&a);
                    assert_eq!(r.code(), 1, "{path}: `{line}`: {}", r.stderr);
                    assert!(
                        r.stderr.starts_with("error: ") && r.stderr.contains("\nhint: "),
                        "{path}: `{line}`: {}",
                        r.stderr
                    );
                    ran += 1;
                }
                ["tcp", "connect", to, ..] => {
                    assert_eq!(*to, "127.0.0.1:9000", "{path}: `{line}`");
                    let server = listen
                        .as_ref()
                        .unwrap_or_else(|| panic!("{path}: `{line}` comes before any listener"));
                    used = true;
                    let (mut bg, first) = Background::start(&with_flag(server, "--port", "0"));
                    let local = first["local"].as_str().unwrap().to_owned();
                    let client: Vec<String> = args
                        .iter()
                        .map(|w| if w == to { local.clone() } else { w.clone() })
                        .collect();
                    let c: Vec<&str> = client.iter().map(String::as_str).collect();
                    let input = piped_input(line).unwrap_or_default();
                    let mut j = vec!["--json"];
                    j.extend(&c);
                    if c.contains(&"--jsonl") {
                        j.remove(0);
                    }
                    let r = netlab_with_stdin(&j, &input, limit);
                    assert_eq!(r.code(), 0, "{path}: `{line}`: {}", r.stderr);
                    assert!(!r.stdout.is_empty(), "{path}: `{line}` printed nothing");
                    let saw = bg.wait_for(|e| e["event"] == "connected", Duration::from_secs(5));
                    let events = bg.stop();
                    assert!(
                        saw,
                        "{path}: `{line}`: the listener saw no connection: {events:?}"
                    );
                    ran += 1;
                }
                _ => {}
            }
        }
        if !used {
            unused_listener(path, listen.as_ref().unwrap());
            ran += 1;
        }
    }
    assert!(ran >= 12, "only {ran} listener and client commands ran");
}

/// Lab 1 step 6: a listener on a port another listener holds fails, with a hint
/// (SO_REUSEADDR lets a port in TIME_WAIT be reused, not one a listener holds).
fn unused_listener(path: &str, args: &[String]) {
    use common::{with_flag, Background};
    let (held, first) =
        Background::start(&with_flag(&["tcp".into(), "listen".into()], "--port", "0"));
    let port = first["local"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let second = with_flag(args, "--port", &port);
    let s: Vec<&str> = second.iter().map(String::as_str).collect();
    let r = common::netlab(&s);
    assert_eq!(r.code(), 1, "{path}: `{}`: {}", args.join(" "), r.stderr);
    assert!(r.stderr.contains("hint: "), "{}", r.stderr);
    drop(held);
}
