//! The receiver's counts against the relay's decisions, over real loopback sockets: every
//! datagram the relay dropped, duplicated or held back must show up in the receiver's
//! lost, duplicate and reordered counts, exactly. And the same seed must give the same drops.

use netlab::cmd::udp::listen::{self, ListenReport, Listener};
use netlab::cmd::udp::relay::{self, RelayReport};
use netlab::cmd::udp::send::{self, SendReport};
use netlab::net::udp::Interrupt;
use netlab::net::Endpoint;
use netlab::output::{Format, Output, Style};
use netlab::wire::measure::impair::Impairment;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);
impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn output() -> (Output, Sink) {
    let sink = Sink::default();
    let out = Output::new(
        Format::Jsonl,
        Style::plain(),
        Box::new(sink.clone()),
        Box::new(std::io::sink()),
    );
    (out, sink)
}

fn endpoint(a: std::net::SocketAddr) -> Endpoint {
    Endpoint {
        host: a.ip().to_string(),
        port: a.port(),
    }
}

/// Listener ← relay ← sender, all on 127.0.0.1 with kernel-chosen ports. Returns the three
/// reports and the relay's event lines (JSON).
fn run_chain(
    impairment: Impairment,
    seed: u64,
    count: u32,
) -> (
    ListenReport,
    RelayReport,
    SendReport,
    Vec<serde_json::Value>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = Listener::bind(listen::Plan {
            bind: "127.0.0.1:0".parse().unwrap(),
            echo: false,
            count: None,
            duration: Some(Duration::from_secs(20)),
            late_budget_us: 50_000,
            quiet: true,
            stop_after_end: true,
        })
        .unwrap();
        let rplan = relay::Plan {
            listen: "127.0.0.1:0".parse().unwrap(),
            to: endpoint(listener.local_addr().unwrap()),
            impairment,
            seed,
            count: None,
            duration: Some(Duration::from_secs(20)),
            quiet: false,
        };
        let r = relay::bind(&rplan).await.unwrap();
        let splan = send::Plan {
            to: endpoint(r.local_addr().unwrap()),
            message: b"x".to_vec(),
            count,
            size: 21,
            // Paced well below what loopback takes, so the kernel drops nothing itself.
            gap: Some(Duration::from_micros(200)),
            wait: Duration::ZERO,
            raw: false,
            quiet: true,
        };
        let (trigger, relay_stop) = Interrupt::manual();
        let (mut lo, _) = output();
        let (mut ro, relay_lines) = output();
        let (mut so, _) = output();
        let listened = async {
            let r = listener.serve(Interrupt::never(), &mut lo).await;
            trigger.fire();
            r
        };
        let all = async {
            tokio::join!(
                listened,
                relay::serve(&rplan, r, relay_stop, &mut ro),
                send::exchange(&splan, Interrupt::never(), &mut so)
            )
        };
        let (l, r, s) = tokio::time::timeout(Duration::from_secs(30), all)
            .await
            .expect("the chain hung for 30 s");
        let lines = String::from_utf8(relay_lines.0.lock().unwrap().clone()).unwrap();
        let events = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (l.unwrap(), r.unwrap(), s.unwrap(), events)
    })
}

const MIXED: Impairment = Impairment {
    loss: 0.10,
    dup: 0.05,
    reorder: 0.05,
    delay_us: 0,
    jitter_us: 0,
};

#[test]
fn receiver_counts_match_the_relay_exactly() {
    let (l, r, s, _) = run_chain(MIXED, 3, 1000);
    assert_eq!(s.sent, 1000);
    assert_eq!(
        r.counters.received, 1001,
        "the relay saw every datagram and the END"
    );
    assert_eq!(l.streams.len(), 1, "{:?}", l.streams);
    let got = &l.streams[0].summary;
    // The relay really did something, so the equalities below are not 0 == 0.
    assert!(r.counters.dropped > 50, "{:?}", r.counters);
    assert!(r.counters.duplicated > 10, "{:?}", r.counters);
    assert!(r.counters.reordered > 10, "{:?}", r.counters);
    assert!(got.end_seen);
    assert_eq!(got.expected, 1000);
    assert_eq!(got.lost, r.counters.dropped, "lost");
    assert_eq!(got.duplicates, r.counters.duplicated, "duplicates");
    assert_eq!(got.reordered, r.counters.reordered, "reordered");
    assert_eq!(
        got.received,
        1000 - r.counters.dropped + r.counters.duplicated
    );
}

#[test]
fn same_seed_same_drops_other_seed_other_drops() {
    let drops = |events: &[serde_json::Value]| -> Vec<u64> {
        events
            .iter()
            .filter(|e| e["event"] == "datagram" && e["verdict"]["drop"] == true)
            .map(|e| e["n"].as_u64().unwrap())
            .collect()
    };
    let loss = Impairment {
        loss: 0.2,
        ..Impairment::default()
    };
    let (l1, _, _, e1) = run_chain(loss, 42, 300);
    let (l2, _, _, e2) = run_chain(loss, 42, 300);
    let (_, _, _, e3) = run_chain(loss, 43, 300);
    let (d1, d2, d3) = (drops(&e1), drops(&e2), drops(&e3));
    assert!(!d1.is_empty());
    assert_eq!(d1, d2, "same seed, same datagrams dropped");
    assert_ne!(d1, d3, "another seed drops other datagrams");
    assert_eq!(l1.streams[0].summary.lost, d1.len() as u64);
    assert_eq!(l2.streams[0].summary.lost, d2.len() as u64);
}

#[test]
fn delay_and_jitter_show_up_in_the_receivers_jitter() {
    let calm = run_chain(Impairment::default(), 1, 200).0;
    let jittery = run_chain(
        Impairment {
            delay_us: 25_000,
            jitter_us: 20_000,
            ..Impairment::default()
        },
        1,
        200,
    )
    .0;
    let (c, j) = (&calm.streams[0].summary, &jittery.streams[0].summary);
    assert_eq!((c.lost, j.lost), (0, 0));
    // Delays uniform in ±20 ms: the mean |D| between two arrivals is 40/3 ≈ 13.3 ms, which
    // RFC 3550's estimator tracks. Loopback alone adds micro- to milliseconds (more on a
    // loaded machine, and load only adds variation), so the floor is firm and the
    // ceiling loose: it still catches an estimator off by its 1/16 gain (≈ 200 ms) or
    // reporting in µs.
    assert!(
        (7.0..100.0).contains(&j.jitter_ms),
        "jitter {} ms",
        j.jitter_ms
    );
    // Load adds to both runs' jitter alike: compare them as an order, not by a margin.
    assert!(j.jitter_ms > c.jitter_ms, "{j:?} vs {c:?}");
    assert!(
        j.reordered > 0,
        "±20 ms of jitter on 0.2 ms gaps reorders: {j:?}"
    );
}
