//! Arbitrary sequences of consumer actions and time into the broker machine. Each pair
//! of bytes is one step: what happens, and to whom. It must never panic, never let a
//! consumer hold more records than its limit, never deliver or commit past what was
//! published.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::queue::{Action, Broker, Config, From};
use std::collections::HashMap;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let config = Config {
        ack_timeout: Duration::from_secs(2),
        max_attempts: 3,
        max_unacked: 3,
        window: 8,
    };
    let mut b = Broker::new(config);
    b.topic("t", vec![0, 0], vec![0, 0]);
    let consumers = ["c0", "c1", "c2", "c3"];
    let mut now = Duration::ZERO;
    let mut held: HashMap<&str, Vec<(u32, u64)>> = HashMap::new();
    let mut ends = [0u64; 2];
    for step in data.chunks(2) {
        let (op, arg) = (step[0], step.get(1).copied().unwrap_or(0));
        let c = consumers[usize::from(arg) % 4];
        let group = if arg & 4 == 0 { "a" } else { "b" };
        match op % 7 {
            0 => {
                let p = u32::from(arg & 1);
                b.appended("t", p, ends[p as usize], now);
                ends[p as usize] += 1;
            }
            1 => {
                let from = [
                    From::Earliest,
                    From::Latest,
                    From::Offset(u64::from(arg >> 4)),
                ][usize::from(arg >> 3) % 3];
                let _ = b.subscribe(c, "t", group, from, Some(usize::from(arg >> 5) + 1), now);
            }
            2 | 3 => {
                if let Some(&(p, o)) = held
                    .get(c)
                    .and_then(|h| h.get(usize::from(arg >> 2) % h.len().max(1)))
                {
                    let r = if op % 7 == 2 {
                        b.ack(c, p, o, now)
                    } else {
                        b.nack(c, p, o, now)
                    };
                    if r.is_ok() {
                        held.get_mut(c).unwrap().retain(|x| *x != (p, o));
                    }
                }
            }
            4 => {
                b.leave(c, now);
                held.remove(c);
            }
            5 => {
                now += Duration::from_millis(u64::from(arg) * 20);
                b.handle_timeout(now);
            }
            _ => {
                let _ = b.ack(c, u32::from(arg & 1), u64::from(arg >> 1), now);
            }
        }
        while let Some(a) = b.poll_action() {
            match a {
                Action::Deliver {
                    consumer,
                    partition,
                    offset,
                    ..
                } => {
                    let c = consumers
                        .iter()
                        .find(|x| **x == consumer)
                        .expect("a known consumer");
                    held.entry(c).or_default().push((partition, offset));
                    let unacked = b.unacked(c).expect("a subscribed consumer");
                    assert!(
                        unacked <= 3,
                        "{consumer} holds {unacked}, more than its limit"
                    );
                    assert!(offset < ends[partition as usize]);
                }
                Action::Commit {
                    partition, offset, ..
                } => {
                    assert!(offset <= ends[partition as usize], "committed past the end");
                }
                Action::DeadLetter { .. } => {}
            }
        }
        // What timed out is held by nobody: forget the oldest guesses.
        for h in held.values_mut() {
            if h.len() > 16 {
                h.drain(..8);
            }
        }
    }
});
