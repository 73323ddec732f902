//! Every `netlab` command that `docs/udp.md` and `labs/02-udp-datagrams.md` show must
//! parse, and every UDP subcommand a student meets must be in the lab.

use clap::Parser;
use netlab::cli::Cli;

/// Split a console line the way a POSIX shell would for these simple cases: words
/// separated by spaces, double quotes group words.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    assert!(!quoted, "unbalanced quotes in {line}");
    if any {
        words.push(cur);
    }
    words
}

fn commands(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("$ "))
        .map(str::to_owned)
        .collect()
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
            let mut words = shell_words(&c);
            // `sudo netlab ...` (part 5 of the demo needs root): the command is netlab's.
            if words[0] == "sudo" {
                words.remove(0);
            }
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
