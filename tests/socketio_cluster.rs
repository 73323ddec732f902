//! `netlab socketio cluster`: several netlab nodes in one process, a balancer in front,
//! the sticky-session part and the broadcasts across nodes; and `docs/several-nodes.md`.

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

#[test]
fn three_nodes_round_robin_fails_polling_sticky_fixes_it_and_io_emit_stays_on_its_node() {
    let report = cluster(&["--nodes", "3"]);
    assert_eq!(report["nodes"].as_array().expect("nodes").len(), 3);
    assert_eq!(report["adapter"], "none");
    check_sticky(&report, 3);
    // netlab's balancer counted the connections it spread.
    let per_node = trial(&report, "round_robin")["connections_per_node"]
        .as_array()
        .expect("counted")
        .len();
    assert_eq!(per_node, 3);
    // A, B, C, D, E, F on n1, n2, n3, n1, n2, n3: io.emit on n1 reached A and D only.
    let members = report["across"]["members"].as_array().expect("members");
    let on_n1: Vec<&str> = members
        .iter()
        .filter(|m| m["node"] == "n1")
        .map(|m| m["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(on_n1, ["A", "D"]);
    for row in report["across"]["rows"].as_array().expect("rows") {
        assert_eq!(row["received_by"], serde_json::json!(on_n1), "{row}");
    }
    match report["redis"]["redis"].as_str() {
        Some("started") => assert_eq!(report["redis"]["answered_ping"], true, "{report}"),
        Some("missing") => {
            assert!(!common::on_path("redis-server"));
            assert_eq!(report["redis"]["install"], "apt-get install redis-server");
        }
        other => panic!("redis: {other:?}"),
    }
}

#[test]
fn the_human_output_says_what_a_cluster_without_an_adapter_does() {
    let r = netlab_with_limit(
        &["socketio", "cluster", "--nodes", "2"],
        Duration::from_secs(120),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for shown in [
        "1. Sticky sessions, through netlab's balancer",
        "Session ID unknown",
        "2. Broadcasts across nodes",
        "only the clients of n1",
    ] {
        assert!(r.stdout.contains(shown), "{shown:?} not in:\n{}", r.stdout);
    }
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

/// The cross-node part takes URLs only: with every client on one node, `io.emit` reaches
/// all six; the same function over two nodes reaches the sender's node's clients only.
#[test]
fn the_cross_node_part_reads_who_received_from_the_clients() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
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
    for row in &one.rows {
        assert_eq!(row.received_by, ["A", "B", "C", "D", "E", "F"], "{row:?}");
    }
    for row in &two.rows {
        assert_eq!(row.received_by, ["A", "C", "E"], "{row:?}");
    }
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
