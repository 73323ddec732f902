//! `docs/dns.md` shows netlab's own output: every command in its ```console blocks runs,
//! and, since each reads a fixture, prints exactly what the page shows.

mod common;
use common::netlab;

/// Each `$ ` line of the ```console blocks in `path`, with the output shown under it.
fn console_sessions(path: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut sessions: Vec<(String, String)> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("```") {
            inside = line.trim() == "```console";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            sessions.push((cmd.to_owned(), String::new()));
        } else if let Some((_, out)) = sessions.last_mut() {
            out.push_str(line);
            out.push('\n');
        }
    }
    sessions
}

fn trimmed_lines(s: &str) -> Vec<&str> {
    s.trim_end().lines().map(str::trim_end).collect()
}

#[test]
fn every_command_in_the_dns_page_prints_what_the_page_shows() {
    let sessions = console_sessions("docs/dns.md");
    assert!(sessions.len() >= 5, "only {} commands", sessions.len());
    for (cmd, shown) in &sessions {
        let argv: Vec<&str> = cmd.split_whitespace().collect();
        assert!(
            cmd.starts_with("netlab capture --example dns"),
            "`{cmd}`: the page should only run netlab on the DNS fixtures"
        );
        <netlab::cli::Cli as clap::Parser>::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("`{cmd}` does not parse:\n{e}"));
        let r = netlab(&argv[1..]);
        assert_eq!(r.code(), 0, "`{cmd}` failed:\n{}", r.stderr);
        assert_eq!(
            trimmed_lines(&r.stdout),
            trimmed_lines(shown),
            "`{cmd}`: docs/dns.md shows other output"
        );
    }
}

#[test]
fn the_page_says_what_the_fixtures_show() {
    let j = netlab(&["--json", "capture", "--example", "dns"]).json();
    let dns = |n: usize| -> serde_json::Value {
        j["packets"][n - 1]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["protocol"] == "dns")
            .unwrap()["decoded"]
            .clone()
    };
    // Packets 5 and 6 share an ID; 6 is a CNAME then the A of its target.
    assert_eq!(dns(5)["id"], dns(6)["id"]);
    assert_eq!(dns(6)["answers"][0]["rtype_name"], "CNAME");
    assert_eq!(dns(6)["answers"][1]["rtype_name"], "A");
    assert_eq!(dns(6)["answers"][0]["name_pointer"], 12);
    assert_eq!(dns(6)["answers"][1]["name_pointer"], 48);
    // 20 NXDomain with an SOA; 24 NODATA with an SOA; 26 truncated, 2 of 3 answers.
    assert_eq!(dns(20)["rcode_name"], "NXDomain");
    assert_eq!(dns(20)["authority"][0]["rtype_name"], "SOA");
    assert_eq!(
        (dns(24)["rcode"].clone(), dns(24)["ancount"].clone()),
        (0.into(), 0.into())
    );
    assert_eq!(dns(24)["authority"][0]["rtype_name"], "SOA");
    assert_eq!(dns(26)["tc"], true);
    assert_eq!(
        (dns(26)["len"].clone(), dns(26)["ancount"].clone()),
        (464.into(), 2.into())
    );
    // Over TCP: the retry holds all three and is 720 bytes; the zone transfer 1219.
    let t = netlab(&["--json", "capture", "--example", "dns-tcp", "--follow", "2"]).json();
    assert_eq!(t["application"][1]["message"]["length"], 720);
    assert_eq!(t["application"][1]["message"]["message"]["ancount"], 3);
    let t = netlab(&["--json", "capture", "--example", "dns-tcp", "--follow", "3"]).json();
    assert_eq!(
        t["application"][0]["message"]["message"]["questions"][0]["qtype_name"],
        "AXFR"
    );
    assert_eq!(t["application"][1]["message"]["length"], 1219);
}
