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
