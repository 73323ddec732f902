//! `netlab socketio cluster`: several netlab nodes in one process, a balancer in front,
//! the sticky-session part, the emit cheatsheet across nodes (every row checked against
//! the line's definition), a node killed mid-stream; and `docs/several-nodes.md`.

mod common;

use common::{netlab_with_limit, redis::RedisServer};
use netlab::cmd::socketio::cluster::{across, haproxy, node};
use netlab::net::balancer::Policy;
use serde_json::Value;
use std::time::Duration;

const UNKNOWN: &str = r#"{"code":1,"message":"Session ID unknown"}"#;

fn cluster(args: &[&str]) -> Value {
    let mut argv = vec!["socketio", "cluster", "--json"];
    argv.extend_from_slice(args);
    let r = netlab_with_limit(&argv, Duration::from_secs(120));
    assert_eq!(r.code(), 0, "{argv:?}: {}", r.stderr);
    r.json()
}

fn trial<'a>(report: &'a Value, policy: &str) -> &'a Value {
    report["sticky"]
        .as_array()
        .expect("trials")
        .iter()
        .find(|t| t["policy"] == policy)
        .unwrap_or_else(|| panic!("no {policy} trial: {report}"))
}

/// Round robin: every polling client refused at its second request with the real
/// server's answer, every WebSocket client through; source and cookie: everyone through.
fn check_sticky(report: &Value, nodes: usize) {
    let rr = trial(report, "round_robin");
    for c in rr["clients"].as_array().expect("clients") {
        if c["transport"] == "polling" {
            assert_eq!(c["ok"], false, "{c}");
            let reqs = c["requests"].as_array().expect("requests");
            assert_eq!(reqs.len(), 2, "{c}");
            assert_eq!(
                (reqs[0]["method"].as_str(), reqs[0]["status"].as_u64()),
                (Some("GET"), Some(200))
            );
            assert_eq!(reqs[1]["status"], 400, "{c}");
            assert_eq!(reqs[1]["body"], UNKNOWN, "{c}");
        } else {
            assert_eq!(c["ok"], true, "{c}");
        }
    }
    for policy in ["source", "cookie"] {
        for c in trial(report, policy)["clients"]
            .as_array()
            .expect("clients")
        {
            assert_eq!(c["ok"], true, "{policy}: {c}");
            let node = c["node"].as_str().expect("a node");
            let n: usize = node[1..].parse().expect("nK");
            assert!((1..=nodes).contains(&n), "{node}");
        }
    }
}

/// Who a cheatsheet line reaches, from its definition: the clients' namespaces, rooms
/// and nodes (`members`: name, namespace, rooms, node), the sender A on `sender`; with an
/// adapter every node's clients can be reached, without one only the sender's node's.
fn expected(code: &str, members: &[Value], sender: &str, adapter: bool) -> Vec<String> {
    let rooms = |m: &Value| -> Vec<String> {
        m["rooms"]
            .as_array()
            .expect("rooms")
            .iter()
            .map(|r| r.as_str().expect("a room").to_owned())
            .collect()
    };
    let in_room = |m: &Value, r: &str| rooms(m).iter().any(|x| x == r);
    let name = |m: &Value| m["name"].as_str().expect("a name").to_owned();
    let reachable = |m: &Value| adapter || m["node"] == sender;
    let main = |m: &Value| m["namespace"] == "/";
    let chosen: Box<dyn Fn(&Value) -> bool> = match code {
        c if c.starts_with("socket.emit") => Box::new(|m| name(m) == "A"),
        c if c.starts_with("socket.timeout(2000).emit") => Box::new(|m| name(m) == "A"),
        c if c.starts_with("io.timeout(2000).emit") => Box::new(|m| main(m) && reachable(m)),
        c if c.starts_with("socket.volatile.emit") => Box::new(|m| name(m) == "A"),
        c if c.starts_with("io.emit") => Box::new(|m| main(m) && reachable(m)),
        c if c.starts_with("io.local.emit") => Box::new(|m| main(m) && m["node"] == sender),
        c if c.starts_with("socket.broadcast.emit") => {
            Box::new(|m| main(m) && reachable(m) && name(m) != "A")
        }
        c if c.starts_with("io.to(\"room1\")") => {
            Box::new(|m| main(m) && reachable(m) && in_room(m, "room1"))
        }
        c if c.starts_with("io.to([\"room1\", \"room2\"]).except(\"room3\")") => Box::new(|m| {
            main(m)
                && reachable(m)
                && (in_room(m, "room1") || in_room(m, "room2"))
                && !in_room(m, "room3")
        }),
        c if c.starts_with("socket.to(\"room1\")") => {
            Box::new(|m| main(m) && reachable(m) && in_room(m, "room1") && name(m) != "A")
        }
        c if c.starts_with("io.of(\"/admin\")") => {
            Box::new(|m| m["namespace"] == "/admin" && reachable(m))
        }
        c if c.starts_with("socket.to(idOfB)") => Box::new(|m| name(m) == "B" && reachable(m)),
        // `socket.to` leaves the sender out, even when the room is its own id.
        c if c.starts_with("socket.to(socket.id)") => Box::new(|_| false),
        other => panic!("a line the test does not define: {other}"),
    };
    members.iter().filter(|m| chosen(m)).map(name).collect()
}

/// Every row of the cheatsheet's table is the line's definition.
fn check_across(across: &Value, adapter: bool) {
    let members = across["members"].as_array().expect("members");
    let rows = across["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 13, "{across}");
    for row in rows {
        let code = row["code"].as_str().expect("code");
        let sender = row["sender_node"].as_str().expect("sender");
        let want = expected(code, members, sender, adapter);
        assert_eq!(
            row["received_by"],
            serde_json::json!(want),
            "{code}: {across}"
        );
        // An emit with ack: every receiver answered (with its name), and only they.
        if code.contains(".timeout(") {
            assert_eq!(row["answers"], serde_json::json!(want), "{code}: {across}");
        } else {
            assert!(row.get("answers").is_none(), "{row}");
        }
    }
}

fn redis_started(report: &Value) -> bool {
    match report["redis"]["redis"].as_str() {
        Some("started") => {
            assert_eq!(report["redis"]["answered_ping"], true, "{report}");
            true
        }
        Some("missing") => {
            assert!(!common::on_path("redis-server"));
            assert_eq!(report["redis"]["install"], "apt-get install redis-server");
            false
        }
        other => panic!("redis: {other:?}"),
    }
}

/// The stream's table: the clients of the nodes that lived missed nothing; those of the
/// killed node moved to another, missed a run of ticks, and were not recovered there.
fn check_killed(killed: &Value, nodes: usize) {
    let ticks = killed["ticks"].as_u64().expect("ticks");
    let runs = killed["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{killed}");
    for run in runs {
        let dead = run["killed"].as_str().expect("killed");
        assert_eq!(dead, format!("n{nodes}"));
        let clients = run["clients"].as_array().expect("clients");
        assert_eq!(clients.len(), 6);
        for c in clients {
            let missed = c["missed"].as_array().expect("missed");
            let received = c["received"].as_u64().expect("received");
            assert_eq!(received + missed.len() as u64, ticks, "{c}");
            if c["node_before"] == dead {
                assert_ne!(c["node_after"], dead, "{c}");
                assert!(c["node_after"].is_string(), "{c}");
                assert!(c["dropped"].is_string(), "{c}");
                assert!(!missed.is_empty(), "a moved client missed something: {c}");
                // What it missed is the time it was away: one run of ticks after the kill.
                let first = missed[0].as_u64().expect("a tick");
                let last = missed[missed.len() - 1].as_u64().expect("a tick");
                assert_eq!(last - first + 1, missed.len() as u64, "{c}");
                assert!(
                    first >= killed["killed_after_tick"].as_u64().expect("k"),
                    "{c}"
                );
                assert!(last < ticks, "{c}");
                assert_eq!(c["recovered"], false, "{c}");
                assert_eq!(c["brought_pid"], run["recovery"], "{c}");
            } else {
                assert!(missed.is_empty(), "{c}");
                assert!(c["node_after"].is_null(), "{c}");
            }
        }
    }
}

#[test]
fn three_nodes_sticky_sessions_the_cheatsheet_across_nodes_and_a_node_killed() {
    let report = cluster(&["--nodes", "3"]);
    assert_eq!(report["nodes"].as_array().expect("nodes").len(), 3);
    check_sticky(&report, 3);
    // netlab's balancer counted the connections it spread.
    let per_node = trial(&report, "round_robin")["connections_per_node"]
        .as_array()
        .expect("counted")
        .len();
    assert_eq!(per_node, 3);
    let members = report["across"]["members"].as_array().expect("members");
    let nodes: Vec<&str> = members
        .iter()
        .map(|m| m["node"].as_str().expect("node"))
        .collect();
    assert_eq!(nodes, ["n1", "n2", "n3", "n1", "n2", "n3"]);
    let adapter = redis_started(&report);
    assert_eq!(report["adapter"], if adapter { "redis" } else { "none" });
    check_across(&report["across"], adapter);
    if adapter {
        check_killed(&report["killed"], 3);
    } else {
        assert!(report["killed"].is_null());
    }
}

#[test]
fn the_human_output_says_what_the_cluster_does() {
    let r = netlab_with_limit(
        &["socketio", "cluster", "--nodes", "3"],
        Duration::from_secs(120),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    // With a Redis, the page shows the cheatsheet's table as the command prints it.
    if common::on_path("redis-server") {
        let page = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/several-nodes.md"
        ))
        .expect("the page");
        let from = r.stdout.find("2. The emit").expect("part 2");
        let to = r.stdout.find("3. A node killed").expect("part 3");
        for line in r.stdout[from..to].lines().filter(|l| l.starts_with('│')) {
            assert!(page.contains(line), "the page lacks {line:?}");
        }
    }
    for shown in [
        "1. Sticky sessions, through netlab's balancer",
        "Session ID unknown",
        "2. The emit cheatsheet across nodes",
        "only the clients of n1",
        "3. A node killed",
    ] {
        assert!(r.stdout.contains(shown), "{shown:?} not in:\n{}", r.stdout);
    }
}

/// A Redis that does not answer: the report says so, and the nodes run without an
/// adapter (`io.emit` stays on its node), the node killed left out.
#[test]
fn without_a_redis_the_cluster_says_so_and_runs_without_an_adapter() {
    let port = haproxy::free_port().expect("a free port").port();
    let url = format!("redis://127.0.0.1:{port}");
    let report = cluster(&["--nodes", "2", "--redis", &url]);
    assert_eq!(report["redis"]["answered_ping"], false, "{report}");
    assert_eq!(report["adapter"], "none");
    assert!(report["killed"].is_null());
    check_across(&report["across"], false);
    let r = netlab_with_limit(
        &["socketio", "cluster", "--nodes", "2", "--redis", &url],
        Duration::from_secs(120),
    );
    assert!(r.stdout.contains("WITHOUT"), "{}", r.stdout);
}

#[test]
fn the_cluster_runs_behind_a_real_haproxy() {
    if !common::have_tool("haproxy") {
        return;
    }
    let report = cluster(&["--nodes", "2", "--balancer", "haproxy"]);
    assert_eq!(trial(&report, "cookie")["balancer"], "haproxy");
    check_sticky(&report, 2);
}

#[test]
fn a_given_redis_is_used_and_checked() {
    let Some(redis) = RedisServer::start(&[]) else {
        return;
    };
    let report = cluster(&["--nodes", "2", "--redis", &redis.url()]);
    assert_eq!(report["redis"]["redis"], "given");
    assert_eq!(report["redis"]["url"], redis.url());
    assert_eq!(report["redis"]["answered_ping"], true);
    assert_eq!(report["adapter"], "redis");
    check_across(&report["across"], true);
    check_killed(&report["killed"], 2);
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["socketio", "cluster", "--nodes", "1"][..],
        &["socketio", "cluster", "--redis", "127.0.0.1:6379"],
    ] {
        let r = netlab_with_limit(args, Duration::from_secs(20));
        assert_eq!(r.code(), 2, "{args:?}: {}", r.stderr);
    }
}

/// The cross-node part takes URLs only: with every client on one node, every line
/// reaches what it reaches on one server; over two nodes without an adapter, only the
/// sender's node's clients.
#[test]
fn the_cross_node_part_reads_who_received_from_the_clients() {
    let rt = runtime();
    let (one, two) = rt.block_on(async {
        let nodes = node::start_nodes(2).await.expect("nodes");
        let urls: Vec<String> = nodes.iter().map(node::Node::url).collect();
        let one = across::run(&urls[..1]).await.expect("one node");
        let two = across::run(&urls).await.expect("two nodes");
        for n in nodes {
            n.stop().await;
        }
        (one, two)
    });
    let one = serde_json::to_value(&one).expect("json");
    check_across(&one, true);
    let io_emit = &one["rows"][1];
    assert_eq!(
        io_emit["received_by"],
        serde_json::json!(["A", "B", "C", "D", "E"])
    );
    check_across(&serde_json::to_value(&two).expect("json"), false);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// A node killed drops its clients' connections at once (no goodbye: the client sees
/// `transport close` within a moment), and the other node keeps serving.
#[test]
fn a_killed_node_drops_its_connections() {
    let rt = runtime();
    rt.block_on(async {
        let nodes = node::start_nodes(2).await.expect("nodes");
        let urls: Vec<String> = nodes.iter().map(node::Node::url).collect();
        let json = serde_json::json!({});
        let mut on_two = across::connect(&urls[1], "X", "/", "n2", json.clone())
            .await
            .expect("X");
        let mut on_one = across::connect(&urls[0], "Y", "/", "n1", json)
            .await
            .expect("Y");
        let started = std::time::Instant::now();
        nodes[1].kill().await;
        let mut reason = None;
        for _ in 0..16 {
            match tokio::time::timeout(Duration::from_secs(2), on_two.sio.next()).await {
                Ok(Ok(netlab::net::socketio::client::Heard::Closed { reason: r })) => {
                    reason = Some(r);
                    break;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => break,
            }
        }
        assert_eq!(reason, Some("transport close"));
        assert!(started.elapsed() < Duration::from_secs(2));
        // The killed node's port no longer answers; the other node does.
        assert!(tokio::net::TcpStream::connect(nodes[1].addr).await.is_err());
        let asked = on_one.sio.emit("where", vec![], true).await.expect("emit");
        assert!(asked.is_some());
        for n in nodes {
            n.stop().await;
        }
    });
}

/// The haproxy configuration the page shows is the one netlab writes, and every command
/// it shows parses.
#[test]
fn the_page_shows_netlabs_haproxy_configuration_and_commands_that_parse() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/several-nodes.md"
    ))
    .expect("the page");
    let nodes = [
        "127.0.0.1:3001".parse().expect("addr"),
        "127.0.0.1:3002".parse().expect("addr"),
    ];
    let written = haproxy::config(
        "127.0.0.1:8000".parse().expect("addr"),
        &nodes,
        Policy::Cookie,
    );
    assert!(
        page.contains(&format!("```text\n{written}```")),
        "the page's haproxy configuration differs from:\n{written}"
    );
    let commands = common::console_commands("docs/several-nodes.md");
    assert!(commands.len() >= 3, "{commands:?}");
    for line in commands {
        let argv = common::netlab_argv(&line).unwrap_or_else(|| panic!("`{line}`"));
        <netlab::cli::Cli as clap::Parser>::try_parse_from(&argv)
            .unwrap_or_else(|e| panic!("`{line}` does not parse: {e}"));
    }
}
