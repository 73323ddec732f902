//! Every `netlab` command that `docs/udp.md` and `labs/02-udp-datagrams.md` show must
//! parse, and every UDP subcommand a student meets must be in the lab.

use clap::Parser;
use netlab::cli::Cli;

mod common;

fn commands(path: &str) -> Vec<String> {
    common::console_commands(path)
}

/// A console line as netlab's argv (`sudo` dropped, quotes grouping words).
fn shell_words(line: &str) -> Vec<String> {
    common::netlab_argv(line).unwrap_or_else(|| panic!("`{line}` is not a netlab command"))
}

#[test]
fn shell_words_handles_quotes() {
    assert_eq!(
        shell_words(r#"netlab udp send 127.0.0.1:9000 "two words" -n 2"#),
        [
            "netlab",
            "udp",
            "send",
            "127.0.0.1:9000",
            "two words",
            "-n",
            "2"
        ]
    );
}

#[test]
fn every_command_in_the_udp_docs_parses() {
    for path in ["docs/udp.md", "labs/02-udp-datagrams.md"] {
        let cmds = commands(path);
        assert!(cmds.len() >= 4, "{path}: too few commands found");
        for c in cmds {
            // `sudo netlab ...` (part 5 of the demo needs root): the command is netlab's.
            let words = shell_words(&c);
            assert_eq!(words[0], "netlab", "{path}: {c}");
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{path}: `{c}` does not parse:\n{e}");
            }
        }
    }
}

#[test]
fn the_lab_uses_every_udp_subcommand() {
    let lab = commands("labs/02-udp-datagrams.md").join("\n");
    for sub in ["demo", "listen", "send", "relay", "bench"] {
        assert!(
            lab.contains(&format!("netlab udp {sub}")),
            "the lab never shows `netlab udp {sub}`"
        );
    }
}

#[test]
fn the_sudo_commands_in_the_docs_are_the_ones_tests_run() {
    // tests/udp_tcp_loss.rs runs exactly these (as root); a new one must be added there.
    const RUN_AS_ROOT_BY_TESTS: [&str; 2] = ["sudo netlab udp demo", "sudo netlab udp demo --json"];
    for path in ["docs/udp.md", "labs/02-udp-datagrams.md"] {
        for c in commands(path).iter().filter(|c| c.starts_with("sudo ")) {
            assert!(
                RUN_AS_ROOT_BY_TESTS.contains(&c.as_str()),
                "{path}: `{c}` is not run by tests/udp_tcp_loss.rs"
            );
        }
    }
    let shown: Vec<String> = ["docs/udp.md", "labs/02-udp-datagrams.md"]
        .iter()
        .flat_map(|p| commands(p))
        .collect();
    for c in RUN_AS_ROOT_BY_TESTS {
        assert!(
            shown.iter().any(|s| s == c),
            "`{c}` is no longer in the docs"
        );
    }
}

/// Every UDP command the docs and the lab show is run as shown (ports the kernel picks
/// stand in for 9000 and 9001, benchmarks are shortened): listeners and the relay in the
/// background, each `udp send` against the listener (or relay and listener) the page
/// started before it, and the datagrams counted where they arrive.
#[test]
fn every_command_in_the_udp_docs_runs() {
    use common::{netlab, with_flag, Background};
    let mut ran = 0;
    for path in ["docs/udp.md", "labs/02-udp-datagrams.md"] {
        let mut listen: Option<Vec<String>> = None;
        let mut relay: Option<Vec<String>> = None;
        for line in commands(path) {
            if line.starts_with("sudo ") {
                continue; // run as root by tests/udp_tcp_loss.rs (see the test above)
            }
            let argv = shell_words(&line);
            let args: Vec<String> = argv[1..].to_vec();
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            match a.as_slice() {
                ["udp", "demo", ..] => {
                    let mut j = vec!["--json"];
                    j.extend(&a);
                    let r = netlab(&j);
                    assert_eq!(r.code(), 0, "{path}: `{line}`: {}", r.stderr);
                    let v = r.json();
                    assert_eq!(v["boundaries"]["one_to_one"], true, "{path}: `{line}`");
                    assert!(v["loss"]["sent"].as_u64() > Some(0), "{path}: `{line}`");
                }
                ["udp", "bench", ..] => {
                    let short = with_flag(&args, "--seconds", "0.2");
                    let mut j = vec!["--json"];
                    j.extend(short.iter().map(String::as_str));
                    let r = netlab(&j);
                    assert_eq!(r.code(), 0, "{path}: `{line}`: {}", r.stderr);
                    // Every datagram sent either arrived or was dropped at the
                    // receiver's socket by the kernel, which counts those itself.
                    let v = r.json();
                    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
                    assert!(n("sent") > 0 && n("received") > 0, "{path}: `{line}`: {v}");
                    if cfg!(target_os = "linux") {
                        assert!(n("lost") <= n("socket_drops"), "{path}: `{line}`: {v}");
                        assert!(
                            n("received") - n("duplicates") + n("socket_drops") >= n("sent"),
                            "{path}: `{line}`: {v}"
                        );
                    }
                }
                ["udp", "listen", ..] => {
                    listen = Some(args.clone());
                    continue; // started for each send below
                }
                ["udp", "relay", ..] => {
                    relay = Some(args.clone());
                    continue;
                }
                ["udp", "send", to, ..] => {
                    let listen = listen
                        .as_ref()
                        .unwrap_or_else(|| panic!("{path}: `{line}` comes before any listener"));
                    let (l, first) = Background::start(&with_flag(listen, "--port", "0"));
                    let laddr = first["addr"].as_str().unwrap().to_owned();
                    let (target, r_bg) = if to.ends_with(":9001") {
                        let relay = relay
                            .as_ref()
                            .unwrap_or_else(|| panic!("{path}: `{line}` comes before the relay"));
                        let r = with_flag(relay, "--listen", "127.0.0.1:0");
                        let (r, first) = Background::start(&with_flag(&r, "--to", &laddr));
                        (first["listen"].as_str().unwrap().to_owned(), Some(r))
                    } else {
                        assert!(to.ends_with(":9000"), "{path}: `{line}`");
                        (laddr, None)
                    };
                    let send: Vec<String> = args
                        .iter()
                        .map(|w| if w == to { target.clone() } else { w.clone() })
                        .collect();
                    let mut j = vec!["--json"];
                    j.extend(send.iter().map(String::as_str));
                    let r = netlab(&j);
                    assert_eq!(r.code(), 0, "{path}: `{line}`: {}", r.stderr);
                    let sent = r.json()["sent"].as_u64().unwrap();
                    // The sender's END marker (or a raw datagram, which has none) is the
                    // last to arrive; then count what arrived at the listener.
                    let mut l = l;
                    let last = |e: &serde_json::Value| {
                        e["event"] == "datagram"
                            && (e["probe"]["end"] == true || !e["raw"].is_null())
                    };
                    assert!(
                        l.wait_for(last, std::time::Duration::from_secs(10)),
                        "{path}: `{line}`: the listener never saw the last datagram"
                    );
                    let got = l
                        .stop()
                        .iter()
                        .filter(|e| e["event"] == "datagram" && e["probe"]["end"] != true)
                        .count() as u64;
                    if let Some(relay) = r_bg {
                        let rep = relay.stop();
                        let dropped = rep
                            .iter()
                            .filter(|e| e["event"] == "datagram" && e["verdict"]["drop"] == true)
                            .count() as u64;
                        assert!(
                            dropped > 0 && got < sent + sent / 10,
                            "{path}: `{line}`: {got} of {sent}, {dropped} dropped"
                        );
                        assert!(got >= sent / 2, "{path}: `{line}`: {got} of {sent}");
                    } else {
                        // Loopback without a relay loses nothing.
                        assert_eq!(got, sent, "{path}: `{line}`");
                    }
                }
                _ => panic!("{path}: `{line}`: not a UDP command this test knows how to run"),
            }
            ran += 1;
        }
    }
    assert!(ran >= 10, "only {ran} commands ran");
}
