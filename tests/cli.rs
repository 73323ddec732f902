//! The command line as a user meets it: help, usage errors, JSON.

mod common;
use common::netlab;

#[test]
fn top_level_help_lists_the_labs() {
    let r = netlab(&["--help"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    // Every lab, in the course's order, each with a line saying what it is for.
    let labs = [
        "osi", "tcp", "udp", "ws", "socketio", "capture", "compare", "proxy", "delivery", "queue",
        "explain", "tour", "lab",
    ];
    assert_eq!(subcommands(&r.stdout), labs, "{}", r.stdout);
    for lab in labs {
        let line = r
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(lab))
            .unwrap();
        assert!(
            line.split_whitespace().count() >= 5,
            "`{lab}` has no description in --help: {line:?}"
        );
    }
}

#[test]
fn every_subcommand_has_help() {
    // Every subcommand listed in --help must answer --help itself, with exit code 0.
    let top = netlab(&["--help"]).stdout;
    let commands = subcommands(&top);
    assert!(!commands.is_empty(), "no commands found in:\n{top}");
    for c in &commands {
        let r = netlab(&[c, "--help"]);
        assert_eq!(r.code(), 0, "netlab {c} --help: {}", r.stderr);
        assert!(
            r.stdout.contains("Usage:"),
            "netlab {c} --help:\n{}",
            r.stdout
        );
        // And every sub-subcommand too.
        for s in subcommands(&r.stdout) {
            let r = netlab(&[c, &s, "--help"]);
            assert_eq!(r.code(), 0, "netlab {c} {s} --help: {}", r.stderr);
            // A sentence saying what it does, its own usage line, and its options.
            let about = r.stdout.split("\n\n").next().unwrap_or_default().trim_end();
            assert!(
                about.split_whitespace().count() >= 5 && about.ends_with(['.', ')']),
                "netlab {c} {s} --help does not start with what it does:\n{}",
                r.stdout
            );
            assert!(
                r.stdout.contains(&format!("Usage: netlab {c} {s}")),
                "netlab {c} {s} --help:\n{}",
                r.stdout
            );
            assert!(
                r.stdout.contains("Options:") && r.stdout.contains("-h, --help"),
                "netlab {c} {s} --help lists no options:\n{}",
                r.stdout
            );
        }
    }
}

#[test]
fn capture_long_help_is_shown_by_help_and_not_by_h() {
    // `--help` shows the long text (what you will see, privileges, examples); `-h` the summary.
    let long = netlab(&["capture", "--help"]);
    assert_eq!(long.code(), 0, "{}", long.stderr);
    for part in ["What you will see", "CAP_NET_RAW", "Examples:"] {
        assert!(
            long.stdout.contains(part),
            "no {part:?} in:\n{}",
            long.stdout
        );
    }
    let short = netlab(&["capture", "-h"]);
    assert_eq!(short.code(), 0, "{}", short.stderr);
    assert!(!short.stdout.contains("Examples:"), "{}", short.stdout);
}

/// The names in a clap help text's `Commands:` section (not its wrapped continuation lines).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let r = netlab(&["no-such-lab"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr.contains("error:"), "{}", r.stderr);
}

#[test]
fn osi_json_parses_and_matches_rfc1122() {
    let v = netlab(&["osi", "--json"]).json();
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 7);
    let tcpip: std::collections::BTreeSet<&str> = models
        .iter()
        .map(|m| m["tcpip"].as_str().unwrap())
        .collect();
    assert_eq!(tcpip.len(), 4, "RFC 1122 has four layers: {tcpip:?}");
    let tcp = v["protocols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["protocol"] == "tcp")
        .unwrap();
    assert_eq!(tcp["osi_number"], 4);
    assert_eq!(tcp["pdu"], "segment");
}

#[test]
fn osi_human_output_shows_all_three_models() {
    let r = netlab(&["osi"]);
    assert_eq!(r.code(), 0);
    for needle in [
        "OSI",
        "RFC 1122",
        "five-layer",
        "Presentation",
        "Internet",
        "WebSocket",
    ] {
        assert!(r.stdout.contains(needle), "missing {needle}:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains('\x1b'), "NO_COLOR must turn colour off");
}

/// The placement note `netlab osi` prints for a protocol (one line per note, after the
/// protocol's name), with any run of spaces as one.
fn osi_note(stdout: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no placement note for {name}:\n{stdout}"));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn osi_notes_give_icmpv6_its_own_rfc_and_next_header() {
    let r = netlab(&["osi"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let v6 = osi_note(&r.stdout, "ICMPv6");
    for needle in ["next header 58", "RFC 4443", "\"an integral part of IPv6\""] {
        assert!(v6.contains(needle), "ICMPv6 note lacks {needle:?}: {v6}");
    }
    // The note it used to share with ICMPv4 gave it ICMPv4's RFCs and protocol number.
    for wrong in ["RFC 792", "RFC 1122", "IP protocol 1"] {
        assert!(
            !v6.contains(wrong),
            "ICMPv6 note still says {wrong:?}: {v6}"
        );
    }
    let v4 = osi_note(&r.stdout, "ICMPv4");
    for needle in ["IP protocol 1", "RFC 792", "RFC 1122 §3.2.2"] {
        assert!(v4.contains(needle), "ICMPv4 note lacks {needle:?}: {v4}");
    }
    assert!(!v4.contains("58"), "{v4}");
}

#[test]
fn color_always_colours_and_broken_pipe_is_quiet() {
    let r = netlab(&["--color", "always", "osi"]);
    assert!(r.stdout.contains("\x1b["), "--color always must colour");

    // `netlab osi | head -1`: the reader goes away early; netlab must exit quietly.
    let mut child = common::netlab_cmd()
        .args(["osi"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // close the read end before netlab writes
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tcp_demo_streams_its_largest_write_in_little_memory() {
    // --large at its maximum, 256 MiB, used to be built in memory three times over (the
    // data, a copy to compare, what arrived). Generated and checked on the fly, it runs
    // under a 400 MB address-space limit.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 400000; exec {} --json tcp demo --large 268435456",
            env!("CARGO_BIN_EXE_netlab")
        ))
        .current_dir(common::away_from_the_repository())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let large = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "large-write")
        .unwrap();
    assert_eq!(large["bytes_received"], 268_435_456);
    assert_eq!(large["stream_intact"], true);
    assert_eq!(large["app_writes"], 1);
    // Each write() was offered every byte still to go, as one write_all offers them.
    let w = large["writes"].as_array().unwrap();
    assert_eq!(w[0]["asked"], 268_435_456);
}

#[test]
fn tcp_demo_shows_the_large_writes_progress_on_a_terminal() {
    let out = common::on_a_terminal("tcp demo --large 67108864", true);
    assert!(out.contains("large write: "), "{out}");
    assert!(out.contains("of 64.0 MiB received"), "{out}");
}
