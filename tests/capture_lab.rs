//! Every command in the capture lab and in `docs/packets-and-layers.md` parses, and every
//! one that needs no privilege runs and succeeds (or, where the lab shows a mistake,
//! fails the way it says); the lab's listener/client pairs run together. The answers the
//! lab gives are checked against the shipped captures, and (as root) the lab's live routes
//! are run and must show netlab's own traffic.

mod common;
use clap::Parser;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LAB: &str = "labs/03-capture-and-layers.md";
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

/// One `$ ...` line of a ```console block: `echo TEXT | netlab ...` gives stdin.
#[derive(Debug, Clone)]
struct Shown {
    line: String,
    stdin: Option<String>,
    /// Starts with `netlab` (a leading `sudo` is removed).
    argv: Vec<String>,
    sudo: bool,
}

impl Shown {
    fn args(&self) -> Vec<&str> {
        self.argv[1..].iter().map(String::as_str).collect()
    }
    fn is(&self, lab: &str, sub: &str) -> bool {
        self.argv.get(1).map(String::as_str) == Some(lab)
            && self.argv.get(2).map(String::as_str) == Some(sub)
    }
}

/// The `$ ...` lines of every ```console block.
fn commands(path: &str) -> Vec<Shown> {
    let mut v = Vec::new();
    for line in common::console_commands(path) {
        let t = line.as_str();
        let cmd = t;
        let (stdin, cmd) = match cmd.split_once(" | ") {
            Some((left, right)) => {
                let echo = split(left);
                assert_eq!(echo[0], "echo", "{t}: only `echo ... |` is understood");
                (Some(format!("{}\n", echo[1..].join(" "))), right)
            }
            None => (None, cmd),
        };
        let mut argv = split(cmd);
        let sudo = argv[0] == "sudo";
        if sudo {
            argv.remove(0);
        }
        assert_eq!(argv[0], "netlab", "{t}");
        v.push(Shown {
            line: t.to_owned(),
            stdin,
            argv,
            sudo,
        });
    }
    v
}

fn lab_commands() -> Vec<Shown> {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    commands(LAB)
}

/// The one command of `lab` whose argv starts `netlab lab sub`, with `pred`.
fn find<'a>(all: &'a [Shown], pred: impl Fn(&Shown) -> bool, what: &str) -> &'a Shown {
    let v: Vec<&Shown> = all.iter().filter(|c| pred(c)).collect();
    assert_eq!(v.len(), 1, "the lab should show one {what}: {v:?}");
    v[0]
}

/// A netlab process in the background whose stdout lines arrive on a channel; killed
/// when dropped.
struct Bg {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Bg {
    fn spawn(args: &[&str]) -> Bg {
        let mut child = common::netlab_cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("netlab runs");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Bg { child, lines }
    }

    fn next_json(&self, what: &str) -> Value {
        let l = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what}: no line within 10 s"));
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{what}: {e}: {l}"))
    }

    /// Wait (at most 20 s) for the process to exit; return every line it printed.
    fn finish(mut self, what: &str) -> Vec<Value> {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(20), "{what} hung");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut v = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            v.push(serde_json::from_str(&l).unwrap_or_else(|e| panic!("{what}: {e}: {l}")));
        }
        v
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run netlab with `args` and `stdin`, within 30 s; the exit code.
fn run_with_stdin(args: &[&str], stdin: Option<&str>) -> i32 {
    let mut child = common::netlab_cmd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("netlab runs");
    let mut w = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        w.write_all(s.as_bytes()).unwrap();
    }
    drop(w);
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netlab {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `argv` with the word `from` replaced by `to`.
fn swap(argv: &[&str], from: &str, to: &str) -> Vec<String> {
    argv.iter()
        .map(|a| a.replace(from, to))
        .collect::<Vec<String>>()
}

/// Run the lab's listener and client (the listener on a port the kernel picks instead of
/// the lab's fixed one, so tests never collide), with the lab's capture command when
/// `capture` is given. Returns the captured packets (empty without a capture).
fn run_pair(listen: &Shown, client: &Shown, capture: Option<&Shown>) -> Vec<Value> {
    let fixed = listen.argv[listen.argv.iter().position(|a| a == "--port").unwrap() + 1].clone();
    let mut largs = swap(&listen.args(), &fixed, "0");
    largs.push("--jsonl".into());
    let server = Bg::spawn(&largs.iter().map(String::as_str).collect::<Vec<_>>());
    let ev = server.next_json(&listen.line);
    assert_eq!(ev["event"], "listening", "{ev}");
    let addr = ev["local"].as_str().or(ev["addr"].as_str()).unwrap();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let cap = capture.map(|c| {
        let mut a = swap(&c.args(), &fixed, &port);
        // A bound in time, in case fewer packets than the lab's --count ever come.
        a.extend(["--jsonl", "--duration", "15"].map(String::from));
        let cap = Bg::spawn(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(cap.next_json(&c.line)["event"], "started");
        cap
    });
    let cargs = swap(&client.args(), &fixed, &port);
    let cargs: Vec<&str> = cargs.iter().map(String::as_str).collect();
    assert_eq!(
        run_with_stdin(&cargs, client.stdin.as_deref()),
        0,
        "{}",
        client.line
    );
    let packets = match cap {
        Some(cap) => cap
            .finish("the lab's capture")
            .into_iter()
            .filter(|e| e.get("number").is_some())
            .collect(),
        None => Vec::new(),
    };
    if listen.is("tcp", "listen") {
        // --max-clients 1: the listener ends by itself once the client has gone.
        let last = server.finish(&listen.line);
        let summary = last.last().unwrap();
        assert_eq!(summary["connections"][0]["bytes_in"], 13, "{summary}");
        assert_eq!(summary["connections"][0]["bytes_out"], 13, "{summary}");
    }
    packets
}

fn tcp_pair(all: &[Shown]) -> (&Shown, &Shown, &Shown) {
    (
        find(all, |c| c.is("tcp", "listen"), "tcp listen"),
        find(all, |c| c.is("tcp", "connect"), "tcp connect"),
        find(
            all,
            |c| c.sudo && c.line.contains("tcp port"),
            "tcp capture",
        ),
    )
}

fn udp_pair(all: &[Shown]) -> (&Shown, &Shown, &Shown) {
    (
        find(all, |c| c.is("udp", "listen"), "udp listen"),
        find(all, |c| c.is("udp", "send"), "udp send"),
        find(
            all,
            |c| c.sudo && c.line.contains("udp port"),
            "udp capture",
        ),
    )
}

#[test]
fn lab_and_doc_commands_parse_and_run() {
    let mut all = lab_commands();
    assert!(all.len() >= 15, "{all:?}");
    all.extend(commands("docs/packets-and-layers.md"));
    for cmd in &all {
        netlab::cli::Cli::try_parse_from(&cmd.argv)
            .unwrap_or_else(|e| panic!("`{}` does not parse: {e}", cmd.line));
        let privileged =
            cmd.sudo || cmd.line.contains("--own-namespace") || cmd.line.contains("--write");
        let pair = ["listen", "connect", "send"]
            .iter()
            .any(|s| cmd.is("tcp", s) || cmd.is("udp", s));
        if privileged || pair {
            continue;
        }
        let r = common::netlab(&cmd.args());
        let expect = if cmd.line.contains("prot 9001") { 2 } else { 0 };
        assert_eq!(
            r.code(),
            expect,
            "`{}`:\n{}{}",
            cmd.line,
            r.stdout,
            r.stderr
        );
    }
    // The listener/client pairs need each other: run them together (the captures of the
    // root route are checked in `the_labs_live_routes_show_netlabs_own_traffic`).
    let lab = lab_commands();
    let (listen, connect, _) = tcp_pair(&lab);
    run_pair(listen, connect, None);
    let (listen, send, _) = udp_pair(&lab);
    run_pair(listen, send, None);
}

fn tcp_of(p: &Value) -> &Value {
    &p["layers"][2]["decoded"]
}

#[test]
fn the_labs_answers_match_its_captures() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let lab = std::fs::read_to_string(LAB).unwrap();
    let v = common::netlab(&["capture", "--example", "tcp-handshake", "--json"]).json();
    let p = v["packets"].as_array().unwrap();
    assert_eq!(p.len(), 10, "the lab says ten packets");
    let (syn, synack) = (tcp_of(&p[0]), tcp_of(&p[1]));
    let isn = syn["seq"].as_u64().unwrap();
    assert!(
        lab.contains(&format!("`seq {isn}`")),
        "question 1's answer is not {isn}"
    );
    assert_eq!(synack["ack"].as_u64().unwrap(), isn + 1);
    assert!(
        lab.contains(&format!("`ack {}` = ISN + 1", isn + 1)),
        "question 2's answer is not {}",
        isn + 1
    );
    let server = "127.0.0.1:9000";
    assert_eq!(p[0]["dst"], server);
    assert!(
        p[3]["info"].as_str().unwrap().contains("len 13"),
        "{}",
        p[3]
    );
    assert_eq!(
        (&p[4]["src"], &p[4]["tcp"]["rel_ack"]),
        (&server.into(), &14.into()),
        "question 3"
    );
    let (fin, reply) = (&p[7], &p[8]);
    assert_eq!(fin["dst"], server, "the client closes first");
    assert_eq!(
        (fin["tcp"]["step"].as_str(), fin["tcp"]["rel_seq"].as_u64()),
        (Some("fin"), Some(14)),
        "question 4"
    );
    assert_eq!(reply["src"], server);
    assert_eq!(
        (
            reply["tcp"]["step"].as_str(),
            reply["tcp"]["rel_seq"].as_u64(),
            reply["tcp"]["rel_ack"].as_u64()
        ),
        (Some("fin"), Some(14), Some(15)),
        "question 4"
    );
    assert_eq!(p[9]["tcp"]["rel_ack"], 15, "question 4");
    assert_eq!(p[0]["layers"][1]["fields"][9]["value"], "6 (TCP)");

    let u = common::netlab(&["capture", "--example", "udp-exchange", "--json"]).json();
    let d = u["packets"].as_array().unwrap();
    assert_eq!(d.len(), 3, "the lab says three datagrams");
    let udp = |i: usize| &d[i]["layers"][2]["decoded"];
    assert_eq!(d[0]["dst"], "127.0.0.1:9001");
    assert_eq!(udp(0)["length"], 32, "question 8");
    assert!(
        lab.contains("8.  `32`") || lab.contains("8. `32`"),
        "question 8"
    );
    // The probe header (magic "NL"), then `ping`: 24 bytes of payload.
    assert_eq!(d[0]["info"], "len 24");
    let hex = common::netlab(&[
        "capture",
        "--example",
        "udp-exchange",
        "--count",
        "1",
        "--hex",
    ]);
    assert!(
        hex.stdout.contains("24 bytes of payload \"NL") && hex.stdout.contains("ping\""),
        "{}",
        hex.stdout
    );
    assert_eq!(d[0]["layers"][1]["decoded"]["protocol"], "udp");
    assert_eq!(
        d[0]["layers"][1]["fields"][9]["value"], "17 (UDP)",
        "question 9"
    );
    // Question 11: the END datagram, from the sender, header only; which of it and the
    // echo came first is what the lab says about this file.
    let end = d
        .iter()
        .position(|x| x["src"] != "127.0.0.1:9001" && x["layers"][2]["decoded"]["length"] == 28)
        .expect("the END datagram");
    let echo = d
        .iter()
        .position(|x| x["src"] == "127.0.0.1:9001")
        .expect("the echo");
    assert_eq!(udp(echo)["length"], 32);
    assert!(lab.contains("`28` = 8 + 20"));
    assert_eq!(
        (echo, end),
        (1, 2),
        "labs/captures/README.md says the echo came first"
    );
}

/// Root: the lab's live routes really show netlab's own traffic: the sudo captures beside
/// `netlab tcp`/`netlab udp`, and `--own-namespace` around the two demos.
#[test]
fn the_labs_live_routes_show_netlabs_own_traffic() {
    if !common::have_root("live capture (CAP_NET_RAW)") {
        return;
    }
    let lab = lab_commands();

    // sudo route, TCP: handshake, 13 bytes each way, FIN from both sides.
    let (listen, connect, capture) = tcp_pair(&lab);
    let p = run_pair(listen, connect, Some(capture));
    assert!(p.len() >= 9, "{p:?}");
    assert_eq!(p[0]["tcp"]["step"], "syn", "{}", p[0]);
    assert_eq!(p[1]["tcp"]["step"], "syn_ack", "{}", p[1]);
    assert_eq!(
        tcp_of(&p[1])["ack"].as_u64().unwrap(),
        tcp_of(&p[0])["seq"].as_u64().unwrap() + 1
    );
    let data: Vec<&str> = p
        .iter()
        .filter(|x| x["info"].as_str().unwrap().contains("len 13"))
        .map(|x| x["src"].as_str().unwrap())
        .collect();
    assert_eq!(data.len(), 2, "{p:?}");
    assert_ne!(data[0], data[1], "the echo comes from the other side");
    let fins = p.iter().filter(|x| x["tcp"]["step"] == "fin").count();
    assert_eq!(fins, 2, "{p:?}");

    // sudo route, UDP: `ping` with the probe header, its echo, END.
    let (listen, send, capture) = udp_pair(&lab);
    let d = run_pair(listen, send, Some(capture));
    let mut lens: Vec<u64> = d
        .iter()
        .map(|x| x["layers"][2]["decoded"]["length"].as_u64().unwrap())
        .collect();
    lens.sort();
    assert_eq!(lens, [28, 32, 32], "{d:?}");

    // --own-namespace around the demos; `netlab` inside is this build.
    let ns = |c: &Shown| -> Vec<String> {
        let mut a: Vec<String> = c.argv[1..].to_vec();
        let dash = a.iter().position(|x| x == "--").unwrap();
        assert_eq!(a[dash + 1], "netlab");
        a[dash + 1] = env!("CARGO_BIN_EXE_netlab").to_owned();
        a.insert(dash, "--jsonl".into());
        a
    };
    let tcp_demo = find(
        &lab,
        |c| c.line.contains("--own-namespace") && c.line.contains("tcp demo"),
        "tcp demo capture",
    );
    let a = ns(tcp_demo);
    let r = common::netlab(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let p: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e.get("number").is_some())
        .collect();
    let steps: Vec<&str> = p
        .iter()
        .map(|x| x["tcp"]["step"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(steps, ["syn", "syn_ack", "handshake_ack"], "{p:?}");
    assert_eq!(
        tcp_of(&p[1])["ack"].as_u64().unwrap(),
        tcp_of(&p[0])["seq"].as_u64().unwrap() + 1
    );

    let udp_demo = find(
        &lab,
        |c| c.line.contains("--own-namespace") && c.line.contains("udp demo"),
        "udp demo capture",
    );
    let mut a = ns(udp_demo);
    a.push("--json".into()); // the demo's own report (on stderr) names its addresses
    let r = common::netlab(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let events: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let start = r
        .stderr
        .find("{\n")
        .expect("the demo's JSON report on stderr");
    let demo: Value = serde_json::Deserializer::from_str(&r.stderr[start..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let datagrams = |run: &Value| -> Vec<(u64, u64, String)> {
        let (from, to) = (
            run["sender"].as_str().unwrap(),
            run["receiver"].as_str().unwrap(),
        );
        events
            .iter()
            .filter(|e| e["protocol"] == "udp" && e["src"] == from && e["dst"] == to)
            .map(|e| {
                let udp = &e["layers"][2]["decoded"];
                (
                    udp["length"].as_u64().unwrap(),
                    e["layers"][1]["decoded"]["total_length"].as_u64().unwrap(),
                    e["layers"][1]["fields"][9]["value"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
            })
            .collect()
    };
    let udp17 = "17 (UDP)".to_owned();
    assert_eq!(
        datagrams(&demo["boundaries"]["run"]),
        [
            (13, 33, udp17.clone()),
            (308, 328, udp17.clone()),
            (1208, 1228, udp17.clone())
        ],
        "part 1: 5, 300 and 1200 bytes of data, each its own datagram"
    );
    assert_eq!(
        datagrams(&demo["size_limit"]["run"]),
        [(65515, 65535, udp17)],
        "the lab's 'going further' question"
    );
    let refused = demo["refused"]["port"].as_u64().unwrap();
    let icmp = events
        .iter()
        .filter(|e| {
            e["protocol"] == "icmpv4"
                && e["info"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("→ {refused}"))
        })
        .count();
    assert!(icmp >= 1, "port unreachable for {refused}: {events:?}");
}
