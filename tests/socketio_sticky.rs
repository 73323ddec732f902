//! Sticky sessions, shown: netlab Socket.IO nodes behind a balancer (netlab's own, and a
//! real haproxy), clients through it. Under round robin a long-polling client's second
//! request reaches a node that never saw its session and gets the real server's
//! `Session ID unknown` (HTTP 400); a WebSocket client keeps one TCP connection and does
//! not care; stickiness by source address or by cookie fixes polling. Checked with
//! netlab's clients and with the real socket.io-client from Node.

mod common;

use netlab::cli::socketio::BalancerKind;
use netlab::cmd::socketio::cluster::{self, haproxy, node, sticky};
use netlab::net::balancer::{Balancer, Policy};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// The real server's answer to a session id it does not know (checked against npm's
/// socket.io in `the_refusal_is_the_npm_servers`).
const UNKNOWN: &str = r#"{"code":1,"message":"Session ID unknown"}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Two nodes, the body of the test with their addresses, then the nodes stopped.
fn with_nodes<T>(
    rt: &tokio::runtime::Runtime,
    f: impl std::future::Future<Output = T>,
    nodes: &mut Vec<node::Node>,
) -> T {
    let r = rt.block_on(f);
    rt.block_on(async {
        for n in nodes.drain(..) {
            n.stop().await;
        }
    });
    r
}

fn start_nodes(rt: &tokio::runtime::Runtime) -> (Vec<node::Node>, Vec<SocketAddr>) {
    let nodes = rt.block_on(node::start_nodes(2)).expect("two nodes");
    let addrs = nodes.iter().map(|n| n.addr).collect();
    (nodes, addrs)
}

fn assert_round_robin_fails_polling(t: &sticky::Trial) {
    for c in &t.clients {
        if c.transport == "websocket" {
            assert!(c.ok, "a WebSocket client does not care: {c:#?}");
            continue;
        }
        assert!(!c.ok, "polling under round robin: {c:#?}");
        assert_eq!(c.requests.len(), 2, "the second request fails: {c:#?}");
        assert_eq!(c.requests[0].status, 200, "{c:#?}");
        assert!(c.requests[0].body.starts_with("0{\"sid\""), "{c:#?}");
        assert_eq!(
            (c.requests[1].status, c.requests[1].body.as_str()),
            (400, UNKNOWN)
        );
    }
}

fn assert_all_through(t: &sticky::Trial) {
    for c in &t.clients {
        assert!(c.ok, "{:?} ({}): {c:#?}", t.policy, t.balancer);
        assert!(c.requests.iter().all(|r| r.status == 200), "{c:#?}");
        assert!(matches!(c.node.as_deref(), Some("n1" | "n2")), "{c:#?}");
    }
}

#[test]
fn netlabs_round_robin_breaks_polling_and_not_websocket() {
    let rt = runtime();
    let (mut nodes, addrs) = start_nodes(&rt);
    let t = with_nodes(
        &rt,
        sticky::netlab_trial(&addrs, Policy::RoundRobin),
        &mut nodes,
    )
    .expect("a trial");
    assert_round_robin_fails_polling(&t);
    // Round robin per connection: the six clients' connections went to both nodes evenly.
    let per_node = t.connections_per_node.expect("counted");
    assert_eq!(per_node.iter().sum::<u64>(), 4 * 2 + 2, "{per_node:?}");
    assert!(per_node[0].abs_diff(per_node[1]) <= 1, "{per_node:?}");
}

#[test]
fn netlabs_source_and_cookie_stickiness_fix_polling() {
    let rt = runtime();
    let (mut nodes, addrs) = start_nodes(&rt);
    let trials = with_nodes(
        &rt,
        async {
            let source = sticky::netlab_trial(&addrs, Policy::Source).await;
            let cookie = sticky::netlab_trial(&addrs, Policy::Cookie).await;
            // One source address, twice: the same node both times.
            let b = Balancer::bind(
                "127.0.0.1:0".parse().expect("addr"),
                addrs.clone(),
                Policy::Source,
            )
            .await
            .expect("a balancer");
            let front = b.local_addr();
            let task = tokio::spawn(b.serve(std::future::pending()));
            let from = Some(sticky::source_of(7));
            let again = [
                sticky::polling_client(front, from, "X").await,
                sticky::polling_client(front, from, "X").await,
            ];
            task.abort();
            (source, cookie, again)
        },
        &mut nodes,
    );
    let (source, cookie, again) = trials;
    assert_all_through(&source.expect("source"));
    let cookie = cookie.expect("cookie");
    assert_all_through(&cookie);
    // Round robin for the first request, the cookie for the rest: the four polling
    // clients are spread over both nodes.
    let polled: Vec<_> = cookie
        .clients
        .iter()
        .filter(|c| c.transport == "polling")
        .collect();
    assert!(
        polled.iter().any(|c| c.node.as_deref() == Some("n1")),
        "{polled:#?}"
    );
    assert!(
        polled.iter().any(|c| c.node.as_deref() == Some("n2")),
        "{polled:#?}"
    );
    assert!(again.iter().all(|c| c.ok), "{again:#?}");
    assert_eq!(again[0].node, again[1].node);
}

/// haproxy with `policy`, in front of two netlab nodes, and the six clients through it.
fn haproxy_trial(policy: Policy) -> Option<sticky::Trial> {
    if !common::have_tool("haproxy") {
        return None;
    }
    let rt = runtime();
    let (mut nodes, addrs) = start_nodes(&rt);
    let t = with_nodes(
        &rt,
        cluster::trial(BalancerKind::Haproxy, &addrs, policy),
        &mut nodes,
    );
    Some(t.expect("haproxy ran"))
}

#[test]
fn haproxys_roundrobin_breaks_polling_and_not_websocket() {
    if let Some(t) = haproxy_trial(Policy::RoundRobin) {
        assert_eq!(t.balancer, "haproxy");
        assert_round_robin_fails_polling(&t);
    }
}

#[test]
fn haproxys_balance_source_fixes_polling() {
    if let Some(t) = haproxy_trial(Policy::Source) {
        assert_all_through(&t);
    }
}

#[test]
fn haproxys_cookie_fixes_polling() {
    if let Some(t) = haproxy_trial(Policy::Cookie) {
        assert_all_through(&t);
    }
}

/// A GET or POST with a session id nobody gave, straight to `addr`: status, content type
/// and body (netlab answers with Content-Length; enough for this).
fn ask_unknown(addr: SocketAddr, method: &str) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let body = if method == "POST" { "40" } else { "" };
    write!(
        s,
        "{method} /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\n\
         Host: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("writes");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status = head[9..12].parse().expect("a status");
    let ty = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (status, ty, body.to_owned())
}

#[test]
fn the_refusal_is_the_npm_servers() {
    let Some(peers) = common::node_peers(&["socket.io"]) else {
        return;
    };
    let real = common::node_json_lines(
        &peers,
        "socketio_support/unknown_sid.js",
        &[],
        Duration::from_secs(20),
        "the npm server",
    );
    let rt = runtime();
    let (mut nodes, addrs) = start_nodes(&rt);
    let ours = [ask_unknown(addrs[0], "GET"), ask_unknown(addrs[0], "POST")];
    with_nodes(&rt, async {}, &mut nodes);
    assert_eq!(real.len(), 2, "{real:?}");
    for (r, (status, ty, body)) in real.iter().zip(&ours) {
        assert_eq!(r["status"], *status, "{} status: {r}", r["method"]);
        assert_eq!(r["body"], body.as_str(), "{} body: {r}", r["method"]);
        assert_eq!(r["type"], ty.as_str(), "{} content type: {r}", r["method"]);
        assert_eq!(body, UNKNOWN);
    }
}

/// The real socket.io-client through a balancer at `front`: what it printed.
fn node_client(
    peers: &std::path::Path,
    front: SocketAddr,
    transport: &str,
    cookies: bool,
) -> Vec<serde_json::Value> {
    let mut args = vec![format!("http://{front}"), transport.to_owned()];
    if cookies {
        args.push("cookies".to_owned());
    }
    common::node_json_lines(
        peers,
        "socketio_support/sticky_client.js",
        &args,
        Duration::from_secs(20),
        "socket.io-client",
    )
}

fn acked(lines: &[serde_json::Value]) -> Option<String> {
    lines
        .iter()
        .find(|l| l["event"] == "ack")
        .and_then(|l| l["node"].as_str().map(str::to_owned))
}

/// The real client through netlab's balancer and through haproxy, for each policy.
#[test]
fn the_real_client_needs_stickiness_for_polling_only() {
    let Some(peers) = common::node_peers(&["socket.io-client"]) else {
        return;
    };
    let rt = runtime();
    let (mut nodes, addrs) = start_nodes(&rt);
    let mut fronts: Vec<(String, Policy, SocketAddr)> = Vec::new();
    let mut tasks = Vec::new();
    let mut haproxies = Vec::new();
    for policy in [Policy::RoundRobin, Policy::Cookie] {
        let b = rt
            .block_on(Balancer::bind(
                "127.0.0.1:0".parse().expect("addr"),
                addrs.clone(),
                policy,
            ))
            .expect("a balancer");
        fronts.push(("netlab".into(), policy, b.local_addr()));
        tasks.push(rt.spawn(b.serve(std::future::pending())));
        if common::have_tool("haproxy") {
            let front = haproxy::free_port().expect("a port");
            let h = rt
                .block_on(haproxy::Haproxy::start(front, &addrs, policy))
                .expect("haproxy starts");
            fronts.push(("haproxy".into(), policy, front));
            haproxies.push(h);
        }
    }
    for (balancer, policy, front) in &fronts {
        let what = format!("{balancer} {policy:?}");
        let ws = node_client(&peers, *front, "websocket", false);
        assert!(acked(&ws).is_some(), "{what}, websocket: {ws:?}");
        let polling = node_client(&peers, *front, "polling", true);
        match policy {
            Policy::RoundRobin => {
                assert_eq!(acked(&polling), None, "{what}, polling: {polling:?}");
                assert!(
                    polling
                        .iter()
                        .any(|l| l["event"] == "connect_error" || l["event"] == "disconnect"),
                    "{what}, polling: {polling:?}"
                );
            }
            _ => assert!(acked(&polling).is_some(), "{what}, polling: {polling:?}"),
        }
    }
    tasks.iter().for_each(|t| t.abort());
    drop(haproxies);
    with_nodes(&rt, async {}, &mut nodes);
}

/// netlab's balancer on its own, on raw TCP: a node that refuses is skipped (and not
/// counted), and the cookie is added to the first answer only when the request had none.
#[test]
fn netlabs_balancer_skips_a_dead_node_and_sets_the_cookie_once() {
    let rt = runtime();
    let (mut nodes, mut addrs) = start_nodes(&rt);
    // A port nothing listens on, first in the list.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port");
    addrs.insert(0, dead);
    let b = rt
        .block_on(Balancer::bind(
            "127.0.0.1:0".parse().expect("addr"),
            addrs,
            Policy::Cookie,
        ))
        .expect("a balancer");
    let (front, counters) = (b.local_addr(), b.counters());
    let task = rt.spawn(b.serve(std::future::pending()));
    let get = |cookie: &str| {
        let mut s = std::net::TcpStream::connect(front).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write!(
            s,
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n{cookie}\
             Connection: close\r\n\r\n"
        )
        .expect("writes");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    let first = get("");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // The dead node is n1: the connection went on to n2 and the cookie says so.
    assert_eq!(
        first.matches("Set-Cookie: netlab_node=").count(),
        1,
        "{first}"
    );
    assert!(
        first.contains("Set-Cookie: netlab_node=n2; Path=/; HttpOnly\r\n"),
        "{first}"
    );
    let again = get("Cookie: netlab_node=n3\r\n");
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
    assert!(!again.contains("Set-Cookie: netlab_node"), "{again}");
    // A cookie naming the dead node: sent on to a live one, with a new cookie.
    let moved = get("Cookie: netlab_node=n1\r\n");
    assert!(moved.contains("Set-Cookie: netlab_node=n2;"), "{moved}");
    assert_eq!(counters.per_node(), [0, 2, 1]);
    assert_eq!(
        counters
            .cookies_set
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    task.abort();
    with_nodes(&rt, async {}, &mut nodes);
}
