//! `netlab delivery`'s table checked against the definitions of its modes, on a real run
//! (netlab's Socket.IO server and clients on loopback, through the proxy): at-most-once
//! modes never process an event twice; at-least-once modes lose nothing under the faults
//! they claim to survive; the idempotent consumer never processes twice; the durable
//! queue loses nothing under any fault, a broker restart included; every row's
//! sent = delivered + lost; the faults really happen (plain emit loses under a cut). And
//! one seed puts the faults at the same events on every run.

mod common;

use netlab::cmd::delivery::{measure_all, Fault, Mode, Plan, Row};
use std::time::Duration;

fn plan(modes: &[Mode], faults: &[Fault], seed: u64) -> Plan {
    Plan {
        events: 100,
        interval: Duration::from_millis(5),
        modes: modes.to_vec(),
        faults: faults.to_vec(),
        seed,
        explain: true,
        parallel: 8,
    }
}

fn row(rows: &[Row], mode: Mode, fault: Fault) -> &Row {
    rows.iter()
        .find(|r| r.mode == mode && r.fault == fault)
        .unwrap_or_else(|| panic!("no row for {mode:?} under {fault:?}"))
}

#[test]
fn the_table_keeps_the_definitions() {
    let report = measure_all(&plan(&Mode::ALL, &Fault::ALL, 1), &mut |_| {}).unwrap();
    let rows = &report.rows;
    assert_eq!(rows.len() + report.not_run.len(), 7 * 7);
    for r in rows {
        let c = &r.counts;
        let what = format!("{:?} under {:?}: {c:?}", r.mode, r.fault);
        assert_eq!(c.sent, 100, "{what}");
        assert_eq!(c.sent, c.delivered + c.lost, "{what}");
        if r.mode.at_most_once() {
            assert_eq!(
                c.duplicated, 0,
                "at most once never processes twice: {what}"
            );
        }
        if r.mode.at_least_once() {
            assert_eq!(c.lost, 0, "at least once loses nothing: {what}");
            assert_eq!(r.gave_up, 0, "{what}");
        }
        if r.fault == Fault::None && r.mode != Mode::Volatile {
            assert_eq!(c.lost, 0, "nothing breaks, nothing is lost: {what}");
        }
        if r.fault != Fault::None && r.mode != Mode::Volatile {
            assert_eq!(r.fault_hit_event, r.fault_at_event, "{what}");
        }
        // A volatile emit may drop the fault's own event with nothing broken: a fault on
        // the consumer's side then hits at the next event that arrives.
        if r.fault != Fault::None && r.mode == Mode::Volatile {
            let (hit, at) = (r.fault_hit_event, r.fault_at_event);
            assert!(hit.is_some() && hit >= at, "{what}: hit {hit:?}, at {at:?}");
        }
    }
    // The faults are real: a plain emit loses events to a cut, a partition, a crash and a
    // late handler; recovery gives back what a cut or a partition took.
    for f in [Fault::Cut, Fault::Partition, Fault::Crash, Fault::Early] {
        assert!(row(rows, Mode::Emit, f).counts.lost > 0, "emit under {f:?}");
    }
    for f in [Fault::Cut, Fault::Partition] {
        assert_eq!(
            row(rows, Mode::Recovery, f).counts.lost,
            0,
            "recovery under {f:?}"
        );
    }
    // A lost acknowledgement makes at-least-once deliver twice; the idempotent consumer
    // recognises the repeat and skips it.
    assert!(row(rows, Mode::Ack, Fault::LostAck).counts.duplicated >= 1);
    assert!(row(rows, Mode::Dedup, Fault::LostAck).deduplicated >= 1);
    // The durable queue runs under every fault and loses nothing, though the restart
    // really took the broker away (the producer lost its connection to it).
    for f in Fault::ALL {
        let r = row(rows, Mode::Queue, f);
        assert_eq!(r.counts.lost, 0, "the queue under {f:?}: {:?}", r.counts);
    }
    let restart = row(rows, Mode::Queue, Fault::Restart);
    assert!(
        restart
            .timeline
            .iter()
            .any(|s| s.who == "producer" && s.what.starts_with("connection lost")),
        "the restart did not reach the producer"
    );
    // The event the consumer crashed on came back from the broker: its second delivery
    // is the one processed.
    let crash = row(rows, Mode::Queue, Fault::Crash);
    let id = crash.fault_hit_event.expect("the consumer crashed");
    let again = format!("processed #{id} (");
    assert!(
        crash
            .timeline
            .iter()
            .any(|s| s.what.starts_with(&again) && s.what.ends_with("delivery 2)")),
        "#{id} was not delivered again after the crash"
    );
    // --explain tells the story of a missed event, from the run's own log.
    let emit = report
        .explained
        .iter()
        .find(|e| e.mode == Mode::Emit)
        .expect("a missed plain emit is explained");
    assert!(emit.steps.iter().any(|s| s.id == Some(emit.id)));
}

fn positions(seed: u64) -> Vec<(String, Option<u64>)> {
    let run = common::netlab_with_limit(
        &[
            "--json",
            "delivery",
            "--events",
            "40",
            "--interval",
            "5",
            "--modes",
            "1,5",
            "--faults",
            "cut,crash,early",
            "--seed",
            &seed.to_string(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr);
    run.json()["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!("{} {}", r["mode"], r["fault"]),
                r["fault_hit_event"].as_u64(),
            )
        })
        .collect()
}

#[test]
fn one_seed_puts_the_faults_at_the_same_events() {
    let a = positions(9);
    assert_eq!(a.len(), 6);
    assert!(a.iter().all(|(_, at)| at.is_some()), "{a:?}");
    assert_eq!(a, positions(9));
    assert_ne!(a, positions(10));
}

#[test]
fn bad_choices_are_usage_errors() {
    for args in [
        &["delivery", "--modes", "9"][..],
        &["delivery", "--faults", "meteor"],
        &["delivery", "--events", "3"],
    ] {
        let run = common::netlab(args);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    }
}
