//! Every command in the capture lab and in `docs/packets-and-layers.md` parses, and every
//! one that needs no privilege runs and succeeds (or, where the lab shows a mistake,
//! fails the way it says). The answers the lab gives are checked against the capture.

mod common;
use clap::Parser;

/// Split a shell command line (single and double quotes; no escapes needed here).
fn split(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// The `$ netlab ...` lines of every ```console block.
fn commands(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut inside = false;
    let mut v = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            inside = t == "```console";
            continue;
        }
        if inside {
            if let Some(cmd) = t.strip_prefix("$ ") {
                v.push(cmd.to_owned());
            }
        }
    }
    v
}

#[test]
fn lab_and_doc_commands_parse_and_run() {
    let mut all = commands("labs/03-capture-and-layers.md");
    assert!(all.len() >= 10, "{all:?}");
    all.extend(commands("docs/packets-and-layers.md"));
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    for cmd in &all {
        let mut argv = split(cmd);
        if argv[0] == "sudo" {
            argv.remove(0);
        }
        assert_eq!(argv[0], "netlab", "{cmd}");
        netlab::cli::Cli::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("`{cmd}` does not parse: {e}"));
        let privileged =
            cmd.starts_with("sudo") || cmd.contains("--own-namespace") || cmd.contains("--write");
        if privileged {
            continue;
        }
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let r = common::netlab(&args);
        let expect = if cmd.contains("prot 9001") { 2 } else { 0 };
        assert_eq!(r.code(), expect, "`{cmd}`:\n{}{}", r.stdout, r.stderr);
    }
}

#[test]
fn the_labs_answers_match_its_captures() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let lab = std::fs::read_to_string("labs/03-capture-and-layers.md").unwrap();
    let v = common::netlab(&[
        "capture",
        "--read",
        "labs/captures/tcp-handshake.pcap",
        "--json",
    ])
    .json();
    let tcp = |i: usize| v["packets"][i]["layers"][2]["decoded"].clone();
    let (syn, synack) = (tcp(0), tcp(1));
    let isn = syn["seq"].as_u64().unwrap();
    assert!(
        lab.contains(&format!("`seq {isn}`")),
        "question 1's answer is not {isn}"
    );
    assert_eq!(synack["ack"].as_u64().unwrap(), isn + 1);
    assert!(lab.contains(&format!("`ack {}` = ISN + 1", isn + 1)));
    assert_eq!(v["packets"][4]["tcp"]["rel_ack"], 14, "question 3");
    let (fin, reply) = (&v["packets"][7]["tcp"], &v["packets"][8]["tcp"]);
    assert_eq!(
        (fin["step"].as_str(), fin["rel_seq"].as_u64()),
        (Some("fin"), Some(14)),
        "question 4"
    );
    assert_eq!(reply["rel_ack"], 15, "question 4");
    assert_eq!(
        v["packets"][7]["src"], "127.0.0.1:9000",
        "the server closes first"
    );
    assert_eq!(
        v["packets"].as_array().unwrap().len(),
        10,
        "the lab says ten packets"
    );
    assert_eq!(
        v["packets"][0]["layers"][1]["fields"][9]["value"],
        "6 (TCP)"
    );
    let u = common::netlab(&[
        "capture",
        "--read",
        "labs/captures/udp-exchange.pcap",
        "--json",
    ])
    .json();
    assert_eq!(
        u["packets"][0]["layers"][2]["decoded"]["length"], 12,
        "question 8"
    );
    assert_eq!(u["packets"][0]["layers"][1]["decoded"]["protocol"], "udp");
}
