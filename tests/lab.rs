//! `netlab lab`: the metadata matches the guides and the CLI, every lab runs to the end
//! with the answers its own run measured, wrong answers get the hint and then the
//! explanation, the `--json` record has its shape, and every netlab command shown in
//! `labs/` and `docs/` still parses.

mod common;

use clap::Parser;
use common::{console_commands, have_root, markdown_files, netlab, netlab_argv, Run};
use netlab::labs::Labs;
use serde_json::Value;
use std::time::Duration;

fn netlab_stdin(args: &[&str], input: &str, limit: Duration) -> Run {
    common::netlab_with_stdin(args, input, limit)
}

fn labs() -> Labs {
    Labs::builtin().expect("labs/labs.toml parses and validates")
}

fn questions(session: &Value) -> Vec<Value> {
    session["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["questions"].as_array().unwrap().clone())
        .collect()
}

#[test]
fn the_metadata_names_guides_that_exist_and_commands_that_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let labs = labs();
    let guides = markdown_files("labs");
    let guides: Vec<&String> = guides
        .iter()
        .filter(|g| !g.ends_with("README.md"))
        .collect();
    assert_eq!(
        labs.labs.len(),
        guides.len(),
        "one lab per guide: {guides:?}"
    );
    for lab in &labs.labs {
        assert!(
            root.join(&lab.guide).is_file(),
            "lab {}: {} is missing",
            lab.id,
            lab.guide
        );
        let text = std::fs::read_to_string(root.join(&lab.guide)).unwrap();
        assert!(
            text.starts_with(&format!("# Lab {}: ", lab.id)),
            "{}: the title should read `# Lab {}: ...`",
            lab.guide,
            lab.id
        );
        assert!(
            text.contains(&format!("Run it guided: `netlab lab run {}`", lab.id)),
            "{}: no \"Run it guided\" line",
            lab.guide
        );
        for step in &lab.steps {
            let all = step
                .command
                .iter()
                .chain(&step.fallback)
                .chain(&step.elsewhere);
            for c in all {
                let c = netlab::labs::netlab_part(c);
                let words = netlab::labs::split_command(&c.replace("{seed}", "7")).unwrap();
                if let Err(e) = netlab::cli::Cli::try_parse_from(&words) {
                    panic!("lab {}: `{c}` does not parse:\n{e}", lab.id);
                }
            }
            for f in step.fallback.iter() {
                // A fallback reads a capture built into netlab, so it works from any folder.
                let words = netlab::labs::split_command(f).unwrap();
                let at = words.iter().position(|w| w == "--example");
                let name = &words
                    [at.unwrap_or_else(|| panic!("lab {}: `{f}` reads no --example", lab.id)) + 1];
                assert!(
                    netlab::shipped::example(name).is_some(),
                    "lab {}: no built-in capture {name}",
                    lab.id
                );
            }
        }
    }
}

#[test]
fn lab_list_lists_every_lab() {
    let r = netlab(&["lab", "list"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let j = netlab(&["--json", "lab", "list"]).json();
    let rows = j["labs"].as_array().unwrap();
    for lab in &labs().labs {
        assert!(r.stdout.contains(&lab.title), "{}", r.stdout);
        let row = rows.iter().find(|x| x["id"] == lab.id).unwrap();
        assert_eq!(row["guide"], lab.guide.as_str());
        assert_eq!(row["needs_capture"], lab.needs_capture);
        assert!(row["questions"].as_u64().unwrap() >= 2);
    }
}

#[test]
fn lab_show_shows_every_step_and_no_answer() {
    for lab in &labs().labs {
        let id = lab.id.to_string();
        let r = netlab(&["lab", "show", &id]);
        assert_eq!(r.code(), 0, "lab {id}: {}", r.stderr);
        assert!(r.stdout.contains(&lab.title));
        for step in &lab.steps {
            if let Some(c) = &step.command {
                assert!(
                    r.stdout.contains(&c.replace("{seed}", "N")),
                    "lab {id}: {c}"
                );
            }
            for q in &step.questions {
                let start: String = q.ask.split('{').next().unwrap().to_owned();
                assert!(r.stdout.contains(&start), "lab {id}: `{start}` not shown");
            }
        }
        let asked: usize = lab.steps.iter().map(|s| s.questions.len()).sum();
        assert_eq!(r.stdout.matches("\n  ? ").count(), asked, "lab {id}");
        assert!(!r.stdout.contains("{/"), "lab {id} shows a raw placeholder");
        let j = netlab(&["--json", "lab", "show", &id]).json();
        assert_eq!(j["id"], lab.id);
        assert_eq!(j["steps"].as_array().unwrap().len(), lab.steps.len());
    }
}

/// Every lab, answered with what its own run measured: every question right at the first
/// try, and the measured values are real values (not empty, not placeholders).
fn autopilot(id: u32, extra: &[&str]) -> Value {
    let id = id.to_string();
    let mut args = vec!["--json", "lab", "run", &id, "--autopilot"];
    args.extend_from_slice(extra);
    let r = common::netlab_with_limit(&args, Duration::from_secs(120));
    assert_eq!(r.code(), 0, "lab {id} {extra:?}: {}", r.stderr);
    let s = r.json();
    assert_eq!(s["completed"], true);
    let qs = questions(&s);
    assert!(qs.len() >= 2, "lab {id}: {} questions", qs.len());
    assert_eq!(s["questions"].as_u64(), Some(qs.len() as u64));
    assert_eq!(s["correct"], s["questions"], "lab {id}: {s}");
    for q in &qs {
        let m = q["measured"].as_str().unwrap();
        assert!(!m.is_empty() && !m.contains('{'), "lab {id}: {q}");
        assert_eq!(q["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(q["attempts"][0]["verdict"], "right");
        assert_eq!(q["attempts"][0]["answer"], q["measured"]);
        assert!(!q["ask"].as_str().unwrap().contains("{/"), "{q}");
    }
    s
}

/// The numbers in a question's text, in order (the run's values it quotes).
fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The word after `before` in `text`, without trailing punctuation.
fn word_after<'a>(text: &'a str, before: &str) -> &'a str {
    let rest = &text[text
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} in {text}"))
        + before.len()..];
    rest.split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['.', ',', '?'])
}

/// Check a question's measured answer against what can be known without the lab
/// engine: the protocol's own rules applied to the values the question quotes. A lab
/// engine that took the wrong value (a wrong pointer, a `take` misapplied) is caught
/// here, where typing the measured value back could only agree with itself. `report` is
/// the step's whole report (the session carries it), for checks that relate the answer
/// to other counts in it; `events` the events the step's command printed. Returns whether
/// a check applied; panics when the answer disagrees.
fn measured_agrees(lab: u32, q: &Value, report: &Value, events: &Value) -> bool {
    let ask = q["ask"].as_str().unwrap();
    let m = q["measured"].as_str().unwrap();
    let n = || -> u64 {
        m.parse()
            .unwrap_or_else(|_| panic!("lab {lab}: {m:?} is no number: {q}"))
    };
    let quoted = numbers_in(ask);
    let pointer = q["pointer"].as_str().unwrap();
    match (lab, pointer) {
        // 10 writes of 13 bytes: at least one read, never more reads than bytes.
        (1, "/report/cases/0/reads") => assert!((1..=quoted[2]).contains(&n()), "{q}"),
        // A read returns at most its buffer: at least ceil(bytes / buffer) reads.
        (1, "/report/cases/5/reads") => {
            let (buffer, bytes) = (quoted[1], quoted[2]);
            assert!(n() >= bytes.div_ceil(buffer) && n() <= bytes, "{q}");
        }
        // One write of N bytes: at least one read, never more reads than bytes.
        (1, "/report/cases/4/reads") => assert!((1..=quoted[1]).contains(&n()), "{q}"),
        // socket(7): Linux doubles SO_RCVBUF and clamps the request at net.core.rmem_max.
        (1, "/report/options/rcvbuf") => {
            let max: u64 = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
                .map_or(u64::MAX, |s| s.trim().parse().unwrap());
            assert_eq!(n(), 2 * quoted[0].min(max), "{q}");
        }
        // A rate: a positive number, below what any memory bus moves.
        (1, "/report/receiver_gbit_per_s") => {
            let rate: f64 = m.parse().unwrap();
            assert!(rate > 0.0 && rate < 10_000.0, "{q}");
        }
        // The kernel's ephemeral port: a real port, not the server's.
        (1, "/report/cases/0/client") => {
            assert!(
                (1024..=65535).contains(&n()) && n() != *quoted.last().unwrap(),
                "{q}"
            )
        }
        // UDP keeps boundaries: one recvfrom per datagram listed.
        (2, "/report/boundaries/receives") => {
            let list = &ask[ask.find('[').unwrap()..=ask.find(']').unwrap()];
            assert_eq!(n() as usize, list.split(',').count(), "{q}");
        }
        // A receive copies at most its buffer.
        (2, "/report/truncation/run/received/0/copied") => {
            assert_eq!(n(), quoted[1].min(quoted[2]), "{q}")
        }
        // The demo's 50 probes: some dropped, and no more than were sent.
        (2, "/report/loss/relay_dropped" | "/report/loss/receiver/lost") => {
            assert!((1..=50).contains(&n()), "{q}")
        }
        // The SYN uses one sequence number: the SYN-ACK acknowledges seq + 1.
        (3, "/packets/1/layers/2/decoded/ack") => {
            let seq: u64 = word_after(ask, "carried seq ").parse().unwrap();
            assert_eq!(n(), (seq + 1) % (1 << 32), "{q}")
        }
        // A TCP header is 20 to 60 bytes, in 32-bit words (RFC 9293 §3.1).
        (3, "/packets/0/layers/2/decoded/header_len") => {
            assert!((20..=60).contains(&n()) && n() % 4 == 0, "{q}")
        }
        (3, "/packets/0/layers/2/decoded/src_port") => assert!((1..=65535).contains(&n()), "{q}"),
        // Linux's default IPv4 TTL, as the kernel says (the shipped capture has 64).
        (3, "/packets/0/layers/1/decoded/ttl") => {
            let default = std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
                .map_or(64, |s| s.trim().parse().unwrap());
            assert!(n() == default || n() == 64, "{q}");
        }
        // Loopback has no hardware: Linux writes zero Ethernet addresses.
        (3, "/packets/0/layers/0/fields/1/value") => assert_eq!(m, "00:00:00:00:00:00", "{q}"),
        // IANA protocol number 6 is TCP.
        (3, "/packets/0/layers/1/fields/9/value") if ask.contains("SYN") => {
            assert_eq!(n(), 6, "{q}")
        }
        // RFC 791 and RFC 768: a 16-bit total length, minus 20 bytes of IPv4 header and 8
        // of UDP header; the larger datagram is the one quoted first.
        (2, "/report/size_limit/run/received/0/datagram_len") => {
            assert_eq!(n(), 65_535 - 20 - 8, "{q}");
            assert_eq!(n(), quoted[1], "{q}");
        }
        // The errno the kernel gave: the C library's text for it is "Message too long".
        (2, "/report/size_limit/run/sent/1/errno") => {
            let e = std::io::Error::from_raw_os_error(n() as i32).to_string();
            assert!(e.starts_with("Message too long"), "{e}: {q}");
        }
        // On loopback a datagram is lost only where the kernel drops it, at the receiver's
        // full buffer, and the kernel counts those drops per socket (/proc/net/udp): a
        // receiver that miscounted would report losses the kernel never saw.
        (2, "/report/lost") => {
            let count = |k: &str| {
                report[k]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{k}: {report}"))
            };
            let (sent, received, dup) = (count("sent"), count("received"), count("duplicates"));
            if cfg!(target_os = "linux") {
                let drops = count("socket_drops");
                assert!(n() <= drops, "{q}: the kernel dropped {drops}: {report}");
                assert!(received - dup + drops >= sent, "{q}: {report}");
            }
            assert!(n() <= sent, "{q}");
        }
        // `netlab udp send` without --count sends one datagram; the failure came after.
        (2, "/report/sent") => assert_eq!(n(), 1, "{q}"),
        // An ISN is a 32-bit number (RFC 9293 §3.4.1).
        (3, "/packets/0/layers/2/decoded/seq") => assert!(n() < 1 << 32, "{q}"),
        // TCP numbers bytes: 13 bytes from seq 1 are acknowledged with the next, 14.
        (3, "/packets/4/tcp/rel_ack") => assert_eq!(n(), quoted[1] + quoted[2], "{q}"),
        // The client's 13 bytes were 1..=13: its FIN takes the next number.
        (3, "/packets/7/tcp/rel_seq") => assert_eq!(n(), 1 + 13, "{q}"),
        // A FIN uses one sequence number (RFC 9293 §3.4).
        (3, "/packets/8/tcp/rel_ack") => assert_eq!(n(), quoted[0] + 1, "{q}"),
        // RFC 768: the UDP length is the IPv4 total length minus its 20-byte header.
        (3, "/packets/0/layers/2/decoded/length") => {
            let total: u64 = word_after(ask, "total length is ").parse().unwrap();
            assert_eq!(n(), total - 20, "{q}")
        }
        // IANA protocol number 17 is UDP.
        (3, "/packets/0/layers/1/fields/9/value") if ask.contains("UDP") => {
            assert_eq!(n(), 17, "{q}")
        }
        // The checksum, summed here from the shipped file's own bytes (RFC 768, RFC 1071).
        (3, "/packets/0/layers/2/decoded/checksum_check/status") => {
            let ok = first_udp_checksum_verifies("labs/captures/udp-exchange.pcap");
            assert_eq!(m, if ok { "correct" } else { "incorrect" }, "{q}");
        }
        // The shipped keep-alive capture, as tshark dissects the same file.
        (5, "/report/conversations") => {
            match tshark_count_in(KEEPALIVE, "tcp.flags.syn == 1 && tcp.flags.ack == 0") {
                Some(syns) => assert_eq!(n(), syns, "{q}"),
                None => return false,
            }
        }
        (5, "/report/conversations/0/packets_b_to_a") => {
            let port = word_after(ask, "the server at port ");
            match tshark_count_in(KEEPALIVE, &format!("tcp.srcport == {port}")) {
                Some(sent) => assert_eq!(n(), sent, "{q}"),
                None => return false,
            }
        }
        (5, "/report/application/4/message/number") => {
            match tshark_count_in(KEEPALIVE, "http.request") {
                Some(requests) => assert_eq!(n(), requests, "{q}"),
                None => return false,
            }
        }
        // Every packet of the live capture belongs to the one conversation, one way or
        // the other.
        (5, "/report/conversations/0/packets_a_to_b") => {
            let conv = &report["conversations"][0];
            let total = report["hierarchy"][0]["packets"].as_u64().unwrap();
            let b_to_a = conv["packets_b_to_a"].as_u64().unwrap();
            assert_eq!(n() + b_to_a, total, "{q}");
            // Each side: its SYN (or SYN-ACK), its HTTP head, a frame and its FIN.
            assert!(n() >= 4 && b_to_a >= 4, "{q}: {conv}");
        }
        // The server's bytes of `netlab ws demo` are the same every run (only the client's
        // Host header changes): its 101 response and its frames, as the demo's own trace
        // (a separate run) shows them.
        (5, "/report/conversations/0/bytes_b_to_a") => {
            assert_eq!(n(), ws_demo_server_bytes(), "{q}");
        }
        // RFC 6455 §4.2.2: a server that accepts the handshake answers 101.
        (5, "/report/application/1/message/status") => assert_eq!(n(), 101, "{q}"),
        (5, "/report/application/1/message/websocket_accept/expected") => {
            let key = word_after(ask, "Sec-WebSocket-Key was ");
            assert_eq!(
                m,
                netlab::wire::application::websocket::handshake::accept_key(key),
                "{q}"
            );
        }
        // §5.2: the second byte's low 7 bits, from the bytes the question quotes.
        (5, "/report/application/2/message/payload_len") => {
            let second = u64::from_str_radix(word_after(ask, "bytes are 81 "), 16).unwrap();
            assert_eq!(n(), second & 0x7f, "{q}");
        }
        // An event waits at most one poll interval (50 ms by default) and a new
        // connection's handshake: the median is above 0 and well below two intervals.
        (6, "/report/columns/0/latency/p50_us") => {
            let ms: f64 = m.parse().unwrap();
            assert!(ms > 0.0 && ms < 100.0, "{q}");
        }
        // Short polling opens a connection per request, and the server counted what it
        // accepted (the capture's own agreement is tests/compare_capture.rs's).
        (6, "/report/columns/0/connections") => {
            let col = &report["columns"][0];
            assert_eq!(col["transport"], "short_poll", "{report}");
            assert_eq!(Some(n()), col["requests"].as_u64(), "{q}: {col}");
            assert_eq!(Some(n()), col["accepted"].as_u64(), "{q}: {col}");
        }
        // A long poll is answered when events exist: at most one request per event, plus
        // the last one still waiting; each request's head is counted in the bytes.
        (6, "/report/columns/2/requests") => {
            let col = &report["columns"][2];
            assert_eq!(col["transport"], "long_poll", "{report}");
            let events = col["expected"].as_u64().unwrap();
            assert!((1..=events + 1).contains(&n()), "{q}: {col}");
            assert_eq!(col["connections"].as_u64(), Some(1), "{col}");
            let heads = col["bytes"]["http_heads"].as_u64().unwrap();
            assert!(
                heads >= n() * "GET / HTTP/1.1\r\n\r\n".len() as u64,
                "{col}"
            );
        }
        // Bytes at the socket API: payload + HTTP heads + framing, both ways; the server
        // counted its own and agrees.
        (6, "/report/columns/4/bytes/total") => {
            let col = &report["columns"][4];
            assert_eq!(col["transport"], "web_socket", "{report}");
            let b = |k: &str| col["bytes"][k].as_u64().unwrap();
            assert_eq!(n(), b("up") + b("down"), "{q}: {col}");
            assert_eq!(
                n(),
                b("payload") + b("http_heads") + b("framing"),
                "{q}: {col}"
            );
            assert_eq!(col["bytes"]["server_agrees"], true, "{col}");
        }
        // Every client gets every event, each over a connection of its own.
        (6, "/report/columns/4/delivered") => assert_eq!(n(), quoted[0] * quoted[1], "{q}"),
        (6, "/report/columns/4/connections") => assert_eq!(n(), quoted[0], "{q}"),
        // The shipped repaired stream: tshark's own expert flags on the same file.
        (5, "/report/notes/retransmissions") => match tshark_count("tcp.analysis.retransmission") {
            Some(flagged) => assert_eq!(n(), flagged, "{q}"),
            None => return false,
        },
        (5, "/report/notes/previous_segment_not_captured") => {
            match tshark_count("tcp.analysis.lost_segment") {
                Some(flagged) => assert_eq!(n(), flagged, "{q}"),
                None => return false,
            }
        }
        // RFC 6455 §4.2.2: the Accept is computed from the key the question quotes.
        (4, "/report/trace/1/headers/2/value") => {
            let key = word_after(ask, "Sec-WebSocket-Key ");
            assert_eq!(
                m,
                netlab::wire::application::websocket::handshake::accept_key(key),
                "{q}"
            );
        }
        // §5.3: the first byte on the wire is the payload's first byte XOR the key's.
        (4, "/report/trace/2/wire_hex") => {
            let key = word_after(ask, "masked with key ");
            let key0 = u8::from_str_radix(&key[..2], 16).unwrap();
            let byte = u8::from_str_radix(word_after(ask, "starts with byte "), 16).unwrap();
            assert_eq!(m, format!("{:02x}", byte ^ key0), "{q}");
        }
        // §5.2: 2 bytes, 0/2/8 of extended length, 4 of masking key.
        (4, "/report/trace/2/header_hex") => assert!([6, 8, 14].contains(&n()), "{q}"),
        // §4.1: the key is base64 of 16 bytes; 4 characters carry 3 bytes, `=` pads.
        (4, "/report/key_decoded_len") => {
            let key = word_after(ask, "The key ");
            assert_eq!(
                n() as usize,
                key.len() / 4 * 3 - key.matches('=').count(),
                "{q}"
            );
            assert_eq!(n(), 16, "{q}");
        }
        // §4.2.2, for the key the question quotes.
        (4, "/report/accept") => {
            let key = word_after(ask, "belongs to the key ");
            assert_eq!(
                m,
                netlab::wire::application::websocket::handshake::accept_key(key),
                "{q}"
            );
        }
        // §5.1: a server MUST NOT mask the frames it sends.
        (4, "/report/trace/3/masked") => assert_eq!(m, "false", "{q}"),
        // §5.4: the frames after a fragmented message's first carry opcode 0.
        (4, "/report/trace/7/opcode") => assert_eq!(m, "continuation", "{q}"),
        // §7.4.1: 1000 is a normal closure; the demo ends normally.
        (4, "/report/close_code") => assert_eq!(n(), 1000, "{q}"),
        // Engine.IO 4: the waiting GET is released with a noop during the upgrade.
        (7, "/report/session/released_get/0") => assert_eq!(m, "6", "{q}"),
        // An ACK repeats the event's ack id; the demo's `add` answers with the sum.
        (7, "/report/session/ack_answer") => assert_eq!(m, "431[5]", "{q}"),
        // socket.to(room) leaves out the sender; a socket's own room holds only it.
        (7, "/report/cheatsheet/rows/8/received_by") => assert_eq!(n(), 0, "{q}"),
        // The heartbeat's words, as the npm server gives them.
        (7, "/report/heartbeat/reason") => assert_eq!(m, "ping timeout", "{q}"),
        // Volatile: dropped when the transport cannot take it (no GET waiting).
        (7, "/report/volatile/dropped") => assert_eq!(m, "true", "{q}"),
        (8, _) | (9, _) => return several_nodes_and_delivery(lab, q, report, events),
        _ => return false,
    }
    true
}

/// Labs 8 and 9: the delivery table's row against the guarantee its mode claims, the queue
/// demo's steps against each other, the cluster's answers against its own members and
/// requests. Returns whether a check applied.
fn several_nodes_and_delivery(lab: u32, q: &Value, report: &Value, events: &Value) -> bool {
    let ask = q["ask"].as_str().unwrap();
    let m = q["measured"].as_str().unwrap();
    let n = || -> u64 {
        m.parse()
            .unwrap_or_else(|_| panic!("{m:?} is no number: {q}"))
    };
    let pointer = q["pointer"].as_str().unwrap();
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let count = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
    match (lab, parts.as_slice()) {
        // Every row: lost is what was sent and never processed; the question names the
        // row's mode; a mode keeps the guarantee it claims under the faults it runs.
        (8, ["report", "rows", i, field]) => {
            let row = &report["rows"][i.parse::<usize>().unwrap()];
            let mode = count(row, "mode_number");
            assert!(ask.starts_with(&format!("Mode {mode} ")), "{q}: {row}");
            assert_eq!(
                count(row, "lost"),
                count(row, "sent") - count(row, "delivered"),
                "{row}"
            );
            match (mode, *field) {
                // At most once: never processed twice.
                (1 | 2, "lost") => assert_eq!(count(row, "duplicated"), 0, "{row}"),
                // At least once to an idempotent consumer: nothing lost, nothing twice.
                (6, "lost") => {
                    assert_eq!(n(), 0, "{row}");
                    assert_eq!(count(row, "duplicated"), 0, "{row}");
                }
                // A lost acknowledgement: the retry is processed again, nothing is lost.
                (5, "duplicated") => {
                    assert_eq!(row["fault"], "lost-ack", "{row}");
                    assert!(n() >= 1 && count(row, "lost") == 0, "{row}");
                }
                // The dedup consumer skips the retry instead.
                (6, "deduplicated") => {
                    assert_eq!(row["fault"], "lost-ack", "{row}");
                    assert!(n() >= 1, "{row}");
                    assert_eq!(count(row, "duplicated") + count(row, "lost"), 0, "{row}");
                }
                _ => return false,
            }
            assert_eq!(n(), count(row, field), "{q}");
        }
        (8, ["events", i, "data", ..]) => {
            let step = |k: usize| events[k]["step"].as_str().unwrap_or_default();
            let text = |k: usize| events[k]["text"].as_str().unwrap_or_default();
            let number_before = |text: &str, word: &str| -> u64 {
                let at = text
                    .find(word)
                    .unwrap_or_else(|| panic!("{word:?} in {text}"));
                *numbers_in(&text[..at]).last().unwrap()
            };
            match *i {
                // The crashed consumer held as many as the limit it asked for.
                "2" => {
                    assert_eq!(step(2), "crash");
                    let limit = text(2).split("limit ").nth(1).unwrap();
                    assert_eq!(n(), numbers_in(limit)[0], "{q}");
                }
                // Delivered once to cook 1 before: this is the next attempt.
                "3" => {
                    assert_eq!((step(2), step(3)), ("crash", "redelivery"));
                    let first = &events[3]["data"]["delivered"][0]["value"];
                    let held = events[2]["data"]["held"].as_array().unwrap();
                    let before = held.iter().filter(|v| *v == first).count() as u64;
                    assert_eq!(n(), before + 1, "{q}");
                }
                // Dead-lettered after the broker's announced number of attempts, each one.
                "4" => {
                    assert_eq!((step(0), step(4)), ("broker", "dead letter"));
                    assert_eq!(n(), number_before(text(0), " attempts"), "{q}");
                    let tried: Vec<u64> = events[4]["data"]["attempts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_u64().unwrap())
                        .collect();
                    assert_eq!(tried, (1..=n()).collect::<Vec<_>>(), "{q}");
                }
                // After the restart, every acknowledged publish is read again.
                "5" => {
                    assert_eq!((step(1), step(5)), ("publish", "restart"));
                    let published = events[1]["data"]["offsets"].as_array().unwrap().len();
                    assert_eq!(n(), published as u64, "{q}");
                }
                _ => return false,
            }
        }
        (9, ["report", "sticky", t, "clients", c, rest @ ..]) => {
            let trial = &report["sticky"][t.parse::<usize>().unwrap()];
            let client = &trial["clients"][c.parse::<usize>().unwrap()];
            let requests = client["requests"].as_array().unwrap();
            match rest {
                // Round robin: the second request reached a node that never saw the sid,
                // and the node said so, as the npm server does.
                ["requests", "1", "status"] => {
                    assert_eq!(trial["policy"], "round_robin", "{trial}");
                    assert_eq!(client["transport"], "polling", "{client}");
                    let body = requests[1]["body"].as_str().unwrap();
                    assert_eq!(n() == 400, body.contains("Session ID unknown"), "{client}");
                    assert_eq!(n() == 400, client["ok"] == false, "{client}");
                    assert_eq!(n(), 400, "{client}");
                }
                // A WebSocket client gets through whatever the policy.
                ["ok"] => {
                    assert_eq!(client["transport"], "websocket", "{client}");
                    assert_eq!(m, client["failure"].is_null().to_string(), "{client}");
                    assert_eq!(m, "true", "{client}");
                }
                // Sticky by address: one of the nodes, and every request answered there.
                ["node"] => {
                    assert_eq!(trial["policy"], "source", "{trial}");
                    let names: Vec<&str> = report["nodes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x["name"].as_str().unwrap())
                        .collect();
                    assert!(names.contains(&m), "{q}: {names:?}");
                    assert!(requests.iter().all(|r| r["status"] == 200), "{client}");
                }
                _ => return false,
            }
        }
        // io.local.emit reaches the sender's node's members; io.emit the same without an
        // adapter, and every member with one.
        (9, ["report", "across", "rows", r, "received_by"]) => {
            let row = &report["across"]["rows"][r.parse::<usize>().unwrap()];
            // The main namespace's members: F, in /admin, hears neither.
            let members: Vec<&serde_json::Value> = report["across"]["members"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["namespace"] == "/")
                .collect();
            let on_node = members
                .iter()
                .filter(|x| x["node"] == row["sender_node"])
                .count() as u64;
            let code = row["code"].as_str().unwrap();
            assert!(
                code.starts_with("io.emit") || code.starts_with("io.local.emit"),
                "{row}"
            );
            let expected = if code.starts_with("io.local.emit") || report["adapter"] == "none" {
                on_node
            } else {
                members.len() as u64
            };
            assert!(on_node >= 1, "{report}");
            assert_eq!(n(), expected, "{q}: {row}");
        }
        _ => return false,
    }
    true
}

/// How many bytes the server of `netlab ws demo` writes, from the demo's own trace: the
/// response head (status line, headers, blank line) and each frame's header and payload.
fn ws_demo_server_bytes() -> u64 {
    let r = common::netlab(&["--json", "ws", "demo"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let mut bytes = 0;
    for t in r.json()["trace"].as_array().unwrap() {
        if t["from"] != "server" {
            continue;
        }
        if t["trace"] == "handshake" {
            bytes += t["start_line"].as_str().unwrap().len() + 2 + 2;
            for h in t["headers"].as_array().unwrap() {
                let (name, value) = (h["name"].as_str().unwrap(), h["value"].as_str().unwrap());
                bytes += name.len() + 2 + value.len() + 2;
            }
        } else {
            let header = t["header_hex"].as_str().unwrap().split_whitespace().count();
            bytes += header + t["payload_len"].as_u64().unwrap() as usize;
        }
    }
    bytes as u64
}

/// Whether the UDP checksum of the first packet of a classic pcap file of Ethernet frames
/// (IPv4, no options) verifies: the one's-complement sum of the pseudo-header (addresses,
/// protocol 17, UDP length) and the whole datagram, checksum included, is 0xffff.
fn first_udp_checksum_verifies(path: &str) -> bool {
    let file = std::fs::read(path).unwrap();
    let frame = &file[24 + 16..];
    let be16 = |b: &[u8], at: usize| u32::from(u16::from_be_bytes([b[at], b[at + 1]]));
    let ip = &frame[14..];
    assert_eq!(
        (ip[0], ip[9]),
        (0x45, 17),
        "{path}: IPv4 without options, UDP"
    );
    let udp = &ip[20..];
    let len = be16(udp, 4) as usize;
    let mut sum: u32 = (12..20).step_by(2).map(|i| be16(ip, i)).sum::<u32>() + 17 + len as u32;
    let mut words = udp[..len].chunks(2);
    for w in &mut words {
        sum += u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// How many packets of the shipped `ws-demo-reordered` capture tshark flags with `filter`
/// (lab 5's second step reads that capture); `None` when tshark is missing (a skip).
fn tshark_count(filter: &str) -> Option<u64> {
    tshark_count_in("tests/fixtures/ws-demo-reordered.pcap", filter)
}

/// The shipped capture lab 5's keep-alive steps read.
const KEEPALIVE: &str = "tests/fixtures/http-keepalive.pcap";

/// How many packets of `file` tshark shows with the display filter `filter`; `None`
/// when tshark is missing (a skip).
fn tshark_count_in(file: &str, filter: &str) -> Option<u64> {
    if !common::have_tool("tshark") {
        return None;
    }
    let out = std::process::Command::new("tshark")
        .args(["-r", file, "-Y", filter])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark -Y {filter}: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).lines().count() as u64)
}

#[test]
fn every_lab_runs_with_the_answers_its_own_run_measured() {
    let mut checked = 0;
    for lab in &labs().labs {
        let s = autopilot(lab.id, &[]);
        for step in s["steps"].as_array().unwrap() {
            for q in step["questions"].as_array().unwrap() {
                let (report, events) = (&step["report"]["report"], &step["report"]["events"]);
                checked += usize::from(measured_agrees(lab.id, q, report, events));
            }
        }
        for step in s["steps"].as_array().unwrap() {
            let src = step["source"].as_str().unwrap();
            if step["command"].is_null() {
                assert_eq!(src, "none");
            } else if lab.needs_capture && src == "shipped_capture" {
                // Live capture was not possible: fine on a laptop, a failure in CI (root).
                assert!(step["note"].as_str().unwrap().contains("shipped"));
                if have_root("a live capture in lab run") {
                    panic!("lab {}: fell back although root: {step}", lab.id);
                }
            } else {
                assert_eq!(src, "live", "{step}");
            }
        }
        if lab.needs_capture {
            let s = autopilot(lab.id, &["--offline"]);
            let steps = s["steps"].as_array().unwrap();
            assert!(steps.iter().any(|st| st["source"] == "shipped_capture"));
            assert!(steps
                .iter()
                .filter(|st| st["source"] == "shipped_capture")
                .all(|st| st["note"].as_str().unwrap().contains("--offline")));
        }
    }
    // Lab 5's five answers about shipped files are checked only where tshark is installed.
    let with_tshark = if common::on_path("tshark") { 5 } else { 0 };
    assert!(
        checked >= 61 + with_tshark,
        "only {checked} measured answers checked independently"
    );
}

/// What the kernel does with `command` (a step expected to fail), found with std's own
/// sockets: the error kind that netlab's error message must be about.
fn kernel_says(command: &str, hold: Option<u16>) -> std::io::ErrorKind {
    use std::net::{TcpListener, TcpStream, UdpSocket};
    let words: Vec<&str> = command.split_whitespace().collect();
    let port = |w: &str| -> u16 { w.rsplit_once(':').unwrap().1.parse().unwrap() };
    match (words[1], words[2]) {
        ("tcp", "connect") => TcpStream::connect(words[3]).unwrap_err().kind(),
        ("tcp", "listen") => {
            let p = hold.expect("a listen that fails holds its port");
            let _held = TcpListener::bind(("127.0.0.1", p));
            TcpListener::bind(("127.0.0.1", p)).unwrap_err().kind()
        }
        ("udp", "send") => {
            // A connected UDP socket receives the ICMP port unreachable as ECONNREFUSED.
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.connect(("127.0.0.1", port(words[3]))).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.send(b"probe").unwrap();
            s.recv(&mut [0; 64]).unwrap_err().kind()
        }
        _ => panic!("no independent check for `{command}`"),
    }
}

#[test]
fn a_step_expected_to_fail_fails_the_way_its_guide_says() {
    use std::io::ErrorKind;
    let labs = labs();
    let mut checked = 0;
    for lab in &labs.labs {
        let failing: Vec<usize> = (0..lab.steps.len())
            .filter(|&i| lab.steps[i].expect_error.is_some())
            .collect();
        if failing.is_empty() {
            continue;
        }
        let s = autopilot(lab.id, &[]);
        for i in failing {
            let step = &lab.steps[i];
            let rec = &s["steps"][i];
            let want = step.expect_error.as_deref().unwrap();
            let failed = rec["failed"].as_str().unwrap_or_else(|| panic!("{rec}"));
            assert!(
                failed.to_lowercase().contains(&want.to_lowercase()),
                "lab {}: {failed}",
                lab.id
            );
            let command = step.command.as_deref().unwrap();
            let kind = kernel_says(command, step.hold_port);
            let words = match kind {
                // Over UDP, ECONNREFUSED is the other kernel's ICMP port unreachable.
                ErrorKind::ConnectionRefused => ["refused", "port unreachable"],
                ErrorKind::AddrInUse => ["in use", "in use"],
                other => panic!("lab {}: `{command}`: the kernel said {other:?}", lab.id),
            };
            assert!(
                words.iter().any(|w| want.contains(w)),
                "lab {}: {want} vs {kind:?}",
                lab.id
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "{checked} failing steps");
}

#[test]
fn answers_differ_from_run_to_run() {
    // Lab 4's accept key comes from a random Sec-WebSocket-Key; lab 2's drops from the seed.
    let a = autopilot(4, &[]);
    let b = autopilot(4, &[]);
    let accept = |s: &Value| {
        questions(s)
            .into_iter()
            .find(|q| q["pointer"] == "/report/trace/1/headers/2/value")
            .unwrap()["measured"]
            .clone()
    };
    assert_ne!(accept(&a), accept(&b));
    let dropped = |seed: &str| {
        let s = autopilot(2, &["--seed", seed]);
        assert_eq!(s["seed"].as_u64().unwrap().to_string(), seed);
        assert!(s["steps"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with(&format!("--seed {seed}")));
        questions(&s)
            .into_iter()
            .find(|q| q["pointer"] == "/report/loss/relay_dropped")
            .unwrap()["measured"]
            .clone()
    };
    // Same seed, same drops; the seeds below are known to drop different numbers.
    assert_eq!(dropped("3"), dropped("3"));
    let counts: std::collections::HashSet<String> = ["1", "2", "3", "4", "5"]
        .iter()
        .map(|s| dropped(s).to_string())
        .collect();
    assert!(counts.len() > 1, "five seeds, one drop count: {counts:?}");
}

#[test]
fn wrong_answers_get_the_hint_then_the_explanation() {
    let labs = labs();
    for (id, extra) in [(1u32, vec![]), (3, vec!["--offline"]), (4, vec![])] {
        let lab = labs.get(id).unwrap();
        let n: usize = lab.steps.iter().map(|s| s.questions.len()).sum();
        let ids = id.to_string();
        // Predictions and Enter presses take a line too; -1 is never a measured value.
        let junk = "-1\n".repeat(4 * n + 10);
        let mut args = vec!["lab", "run", ids.as_str()];
        args.extend(extra.iter().copied());
        let r = netlab_stdin(&args, &junk, Duration::from_secs(120));
        assert_eq!(r.code(), 0, "lab {id}: {}", r.stderr);
        assert_eq!(
            r.stdout.matches("Not quite. Hint:").count(),
            n,
            "{}",
            r.stdout
        );
        assert_eq!(r.stdout.matches("Not this time. ").count(), n);
        for step in &lab.steps {
            for q in &step.questions {
                let first_words: String =
                    q.hint.split('{').next().unwrap().chars().take(30).collect();
                assert!(
                    r.stdout.contains(&first_words),
                    "lab {id}: hint `{first_words}` not shown"
                );
            }
        }
        let mut args = vec!["--json", "lab", "run", ids.as_str()];
        args.extend(extra.iter().copied());
        let s = netlab_stdin(&args, &junk, Duration::from_secs(120)).json();
        assert_eq!(s["correct"], 0);
        assert_eq!(s["completed"], true);
        for q in questions(&s) {
            assert_eq!(q["correct"], false);
            assert_eq!(q["hint_shown"], true);
            assert_eq!(q["explanation_shown"], true);
            let at = q["attempts"].as_array().unwrap();
            assert_eq!(at.len(), 2);
            assert!(at
                .iter()
                .all(|a| a["answer"] == "-1" && a["verdict"] == "wrong"));
        }
    }
}

#[test]
fn typed_answers_are_checked_against_the_run() {
    // Lab 5 offline reads fixtures only, so this test can work out the right answers on
    // its own, from the same files, and type them in.
    let ws = netlab(&["--json", "capture", "--example", "ws-demo", "--stats"]).json();
    let re = netlab(&[
        "--json",
        "capture",
        "--example",
        "ws-demo-reordered",
        "--stats",
    ])
    .json();
    let keepalive = |extra: &[&str]| {
        let mut args = vec!["--json", "capture", "--example", "http-keepalive"];
        args.extend_from_slice(extra);
        netlab(&args).json()
    };
    let stats = keepalive(&["--stats"]);
    let http = keepalive(&["--follow", "1"]);
    let ws_follow = netlab(&["--json", "capture", "--example", "ws-demo", "--follow", "1"]).json();
    let requests = http["application"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["message"]["kind"] == "http_request")
        .count();
    let c = &ws["conversations"][0];
    let handshake = &ws_follow["application"][1]["message"];
    let answers = [
        c["packets_a_to_b"].to_string(),
        c["bytes_b_to_a"].to_string(),
        stats["conversations"].as_array().unwrap().len().to_string(),
        stats["conversations"][0]["packets_b_to_a"].to_string(),
        requests.to_string(),
        handshake["status"].to_string(),
        handshake["websocket_accept"]["expected"]
            .as_str()
            .unwrap()
            .to_owned(),
        ws_follow["application"][2]["message"]["payload_len"].to_string(),
        re["notes"]["retransmissions"].to_string(),
        re["notes"]["previous_segment_not_captured"].to_string(),
    ];
    let all = answers.len();
    let answers = answers.join("\n") + "\n";
    let s = netlab_stdin(
        &["--json", "lab", "run", "5", "--offline"],
        &answers,
        Duration::from_secs(60),
    )
    .json();
    assert_eq!(s["correct"], all, "{s}");
    assert_eq!(s["correct_first_try"], all);
    // One wrong, then right: the hint, and the second attempt counts.
    let answers = format!("0\n{}\n", answers);
    let s = netlab_stdin(
        &["--json", "lab", "run", "5", "--offline"],
        &answers,
        Duration::from_secs(60),
    )
    .json();
    let q = &questions(&s)[0];
    assert_eq!(q["correct"], true);
    assert_eq!(q["hint_shown"], true);
    assert_eq!(q["explanation_shown"], false);
    assert_eq!(q["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(s["correct_first_try"], all - 1);
    // Text answers: case and a 0x do not matter, and the hint says what was not a number.
    let r = netlab_stdin(
        &["lab", "run", "5", "--offline"],
        "many\n",
        Duration::from_secs(60),
    );
    assert!(r.stdout.contains("Not a number. Hint:"), "{}", r.stdout);
}

#[test]
fn end_of_input_stops_cleanly() {
    let r = netlab_stdin(
        &["--json", "lab", "run", "1"],
        "a prediction\n",
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), 1, "{}", r.stderr);
    // With --json the conversation is on stderr, and the error line ends it.
    assert!(
        r.stderr.contains("\nerror: input ended (Ctrl-D) in step 1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Predict first:"), "{}", r.stderr);
    assert!(r.stderr.contains("hint: "));
    assert!(!r.stderr.contains("panicked"));
    let s = r.json();
    assert_eq!(s["completed"], false);
    assert_eq!(s["steps"][0]["prediction"], "a prediction");
    let r = netlab_stdin(&["lab", "run", "1"], "", Duration::from_secs(60));
    assert_eq!(r.code(), 1);
    assert!(r.stderr.contains("input ended"), "{}", r.stderr);
}

#[test]
fn instructor_mode_shows_the_measured_answers() {
    let r = netlab(&["lab", "run", "4", "--autopilot", "--instructor"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let n = r
        .stdout
        .matches("(instructor: the answer from this run is ")
        .count();
    let asked: usize = labs()
        .get(4)
        .unwrap()
        .steps
        .iter()
        .map(|s| s.questions.len())
        .sum();
    assert_eq!(n, asked, "{}", r.stdout);
}

#[test]
fn bad_input_gets_an_error_and_a_hint() {
    for (args, want) in [
        (vec!["lab", "run", "99"], "error: there is no lab 99"),
        (
            vec!["lab", "show", "one"],
            "error: `one` is not a lab number",
        ),
        (
            vec!["lab", "run", "1", "--offline"],
            "error: lab 1 captures nothing",
        ),
        (vec!["lab", "run", "2", "--seed", "0"], "error: --seed 0"),
        (
            vec!["lab", "run", "4", "--seed", "3"],
            "error: lab 4 takes no seed",
        ),
    ] {
        let r = netlab(&args);
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with(want), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("\nhint: "), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn every_netlab_command_in_labs_and_docs_parses() {
    let mut files = markdown_files("labs");
    files.extend(markdown_files("docs"));
    files.push("README.md".to_owned());
    let mut n = 0;
    for file in &files {
        for line in console_commands(file) {
            let Some(argv) = netlab_argv(&line) else {
                continue;
            };
            n += 1;
            if let Err(e) = netlab::cli::Cli::try_parse_from(&argv) {
                panic!("{file}: `{line}` does not parse:\n{e}");
            }
        }
    }
    assert!(n >= 100, "only {n} commands found");
}

#[test]
fn netlab_argv_reads_console_lines_as_a_shell_would() {
    assert_eq!(
        netlab_argv("echo hi | netlab tcp connect 127.0.0.1:9 --jsonl | head").unwrap(),
        ["netlab", "tcp", "connect", "127.0.0.1:9", "--jsonl"]
    );
    assert_eq!(
        netlab_argv(r#"sudo netlab udp send 127.0.0.1:9 "two words""#).unwrap(),
        ["netlab", "udp", "send", "127.0.0.1:9", "two words"]
    );
    assert_eq!(netlab_argv("printf x | sha1sum"), None);
}

#[test]
fn a_capture_lab_falls_back_to_the_shipped_capture_when_it_cannot_capture() {
    // Without `unshare` on PATH no namespace can be made: the situation of a laptop whose
    // kernel refuses user namespaces, reached for real.
    let empty = std::env::temp_dir().join(format!("netlab-lab-nopath-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = common::netlab_cmd()
        .env("PATH", &empty)
        .args(["--json", "lab", "run", "3", "--autopilot"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir(&empty);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let step = &s["steps"][0];
    assert_eq!(step["source"], "shipped_capture", "{step}");
    let note = step["note"].as_str().unwrap();
    assert!(
        note.starts_with("no live capture here (") && note.contains("unshare"),
        "{note}"
    );
    assert_eq!(
        step["command"],
        "netlab capture --example tcp-handshake --count 2 --layers"
    );
    // The shipped capture's own numbers: its SYN-ACK acknowledges the SYN's seq + 1.
    let q = questions(&s);
    assert_eq!(s["correct"], s["questions"]);
    let q = q
        .iter()
        .find(|q| q["pointer"] == "/packets/1/layers/2/decoded/ack")
        .unwrap();
    let ack: u64 = q["measured"].as_str().unwrap().parse().unwrap();
    let seq: u64 = q["ask"]
        .as_str()
        .unwrap()
        .split("seq ")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ack, seq + 1);
}

#[test]
fn lab_5_step_2_says_what_its_capture_shows() {
    // The step once said a segment "arrived out of order" and then expected 0 as the
    // out-of-order count. What the text claims happened must be counted in the capture,
    // and no question of the step may expect 0 for something the step says happened.
    let labs = labs();
    let lab = labs.labs.iter().find(|l| l.id == 5).unwrap();
    let step = &lab.steps[1];
    let notes = netlab(&[
        "--json",
        "capture",
        "--example",
        "ws-demo-reordered",
        "--stats",
    ])
    .json()["notes"]
        .clone();
    let claims = [
        ("out of order", "out_of_order"),
        ("sent again", "retransmissions"),
        ("after a hole", "previous_segment_not_captured"),
    ];
    for (words, counter) in claims {
        if step.what.contains(words) {
            assert!(
                notes[counter].as_u64().unwrap() > 0,
                "lab 5 step 2 says {words:?} but the capture counts {counter} = {}",
                notes[counter]
            );
        }
    }
    let s = autopilot(5, &["--offline"]);
    for q in s["steps"][1]["questions"].as_array().unwrap() {
        assert_ne!(q["measured"], "0", "lab 5 step 2 expects 0: {q}");
    }
}

#[test]
fn lab_show_and_explain_fit_a_100_column_terminal() {
    // Prose is wrapped to the terminal's width; only a command (shown whole so it can be
    // copied) may run past it.
    let mut runs: Vec<String> = labs()
        .labs
        .iter()
        .map(|l| format!("lab show {}", l.id))
        .collect();
    runs.push("explain socket.io".into());
    runs.push("explain \"TCP/IP model\"".into());
    for args in runs {
        for line in common::on_a_terminal_of_width(&args, 100) {
            let command = line.contains("$ netlab") || line.contains("`netlab");
            assert!(
                line.chars().count() <= 100 || command,
                "netlab {args}: a line of {} columns:\n{line}",
                line.chars().count()
            );
        }
    }
}

/// The guide's questions, by number, with their text: `N. …` list items and `**QN.**`
/// paragraphs outside code blocks and outside the `<details>` that hold the answers (a
/// question's text runs to the next blank line or the next question).
fn guide_questions(text: &str) -> Vec<(u32, String)> {
    let (mut code, mut answers) = (false, false);
    let mut found: Vec<(u32, String)> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if line.starts_with("```") {
            code = !code;
            open = false;
            continue;
        }
        if code {
            continue;
        }
        if line.contains("<details") {
            answers = true;
            open = false;
        }
        if line.contains("</details>") {
            answers = false;
            continue;
        }
        if answers {
            continue;
        }
        let n = match line.strip_prefix("**Q") {
            Some(rest) => rest.split_once(".**").map(|(n, _)| n),
            None => line.split_once(". ").map(|(n, _)| n),
        };
        if let Some(Ok(n)) = n.map(str::parse::<u32>) {
            found.push((n, line.to_owned()));
            open = true;
        } else if line.trim().is_empty() {
            open = false;
        } else if open {
            let last = found.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line.trim());
        }
    }
    found
}

/// How a guide marks a question that `netlab lab run` does not check: one to answer in
/// words, or one that something the guided run cannot see answers (root, a browser,
/// other terminals), which the mark names.
const IN_WORDS: &str = "*(A question to answer in words.)*";
const NOT_CHECKED: &str = "*(Not checked by `netlab lab run`: ";

#[test]
fn the_guides_and_labs_toml_have_not_drifted_apart() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for lab in &labs().labs {
        let text = std::fs::read_to_string(root.join(&lab.guide)).unwrap();
        let texts = guide_questions(&text);
        let asked: Vec<u32> = texts.iter().map(|(n, _)| *n).collect();
        let expected: Vec<u32> = (1..=asked.len() as u32).collect();
        assert_eq!(
            asked, expected,
            "{}: questions numbered 1, 2, 3, …",
            lab.guide
        );
        // Each question of the guide is checked by a step, or marked a reading question.
        let checked: std::collections::BTreeSet<u32> = lab
            .steps
            .iter()
            .flat_map(|s| s.questions.iter().filter_map(|q| q.guide))
            .collect();
        for n in &expected {
            let (c, r) = (checked.contains(n), lab.reading.contains(n));
            assert!(
                c != r,
                "lab {}: guide question {n} is {} (a question of {} is checked by a step \
                 with `guide = {n}`, or listed in `reading`, not both)",
                lab.id,
                if c {
                    "both checked and reading"
                } else {
                    "neither checked nor reading"
                },
                lab.guide
            );
        }
        // The guide says which questions the guided run leaves to the student, and why.
        for (n, q) in &texts {
            let marked = q.contains(IN_WORDS) || q.contains(NOT_CHECKED);
            assert_eq!(
                marked,
                lab.reading.contains(n),
                "lab {}: guide question {n} {} (`{IN_WORDS}` or `{NOT_CHECKED}…)*` marks \
                 exactly the questions in `reading`): {q}",
                lab.id,
                if marked {
                    "is marked but checked by a step"
                } else {
                    "is in `reading` but not marked"
                }
            );
        }
        for n in checked.iter().chain(&lab.reading) {
            assert!(
                expected.contains(n),
                "lab {}: the guide has no question {n}",
                lab.id
            );
        }
        // Every command the guided run runs is one the guide shows (the session's seed
        // stands for the number the guide writes).
        let shown: Vec<String> = common::console_commands(&lab.guide);
        for step in &lab.steps {
            let run = step
                .command
                .iter()
                .chain(&step.fallback)
                .chain(&step.elsewhere);
            for c in run {
                let bare = c.replace(" --seed {seed}", "");
                assert!(
                    shown.iter().any(|s| s == c || *s == bare),
                    "lab {}: `{c}` is run by `netlab lab run` but not shown in {}",
                    lab.id,
                    lab.guide
                );
            }
        }
    }
}

#[test]
fn the_guided_run_names_the_reading_questions_at_the_end() {
    let r = netlab(&["lab", "run", "1", "--autopilot"]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("Reading questions: questions 2, 5, 6, 8, 9 of labs/01-tcp-streams.md are not checked by this run"),
        "{all}"
    );
}

#[test]
fn pressing_enter_after_the_other_terminals_commands_is_checked() {
    // Lab 1 step 2 asks for a listener on port 9000 in another terminal. "Press Enter when
    // you have done it" used to check nothing; now netlab looks for the port's sockets.
    // A listener held here stands for the student's (if the port is taken, someone else
    // holds it, which netlab sees just the same).
    let _held = std::net::TcpListener::bind("127.0.0.1:9000");
    let n: usize = labs()
        .get(1)
        .unwrap()
        .steps
        .iter()
        .map(|s| s.questions.len())
        .sum();
    let junk = "-1\n".repeat(4 * n + 10);
    let r = netlab_stdin(&["lab", "run", "1"], &junk, Duration::from_secs(120));
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("checked: netlab sees TCP sockets on port 9000 of this machine ("),
        "{}",
        r.stdout
    );
    let s = netlab_stdin(
        &["--json", "lab", "run", "1"],
        &junk,
        Duration::from_secs(120),
    )
    .json();
    let seen = s["steps"][1]["elsewhere_seen"].as_str().unwrap();
    assert!(seen.contains("LISTEN"), "{seen}");
}
