//! Arbitrary clients against the Socket.IO server machine. The input is a list of records:
//! a byte (session 0 to 3 in the low bits, what to do in the high bits: a text message, a
//! binary message, open, close, time passing), a length byte, then that many bytes. The
//! application answers every connect request (accepting or refusing by the first auth
//! byte), every ack request, and joins or broadcasts on some events. Must never panic, and
//! every socket the server lists must belong to a namespace it has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlab::wire::application::socketio::{
    Action, AppEvent, DisconnectReason, EngineMessage, Options, RecoveryOptions, Server,
};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let mut n = 0u32;
    let recovery = data.first().is_some_and(|b| b & 1 == 1).then(RecoveryOptions::default);
    let options = Options { recovery, ..Options::default() };
    let mut io = Server::new(options, Box::new(move || {
        n += 1;
        format!("id{n}")
    }));
    io.add_namespace("/admin", true);
    let mut now = Duration::ZERO;
    let mut rest = data.get(1..).unwrap_or_default();
    while let [op, len, tail @ ..] = rest {
        let size = usize::from(*len).min(tail.len());
        let (bytes, after) = tail.split_at(size);
        rest = after;
        let session = format!("e{}", op & 3);
        match op >> 2 & 7 {
            0 | 1 => io.message(&session, EngineMessage::Text(String::from_utf8_lossy(bytes).into_owned()), now),
            2 => io.message(&session, EngineMessage::Binary(bytes.to_vec()), now),
            3 => io.open(&session, now),
            4 => io.closed(&session, DisconnectReason::TransportClose, now),
            _ => {
                now += Duration::from_millis(u64::from(*len) * 500);
                io.handle_timeout(now);
            }
        }
        // Bounded: each application answer adds at most a few actions and asks nothing back.
        for _ in 0..10_000 {
            let Some(action) = io.poll_action() else { break };
            if let Action::App(event) = action {
                answer(&mut io, event);
            }
        }
    }
    io.shutdown(now);
    io.drain_actions();
    assert!(io.sockets("/").is_empty() && io.sockets("/admin").is_empty());
});

fn answer(io: &mut Server, event: AppEvent) {
    match event {
        AppEvent::ConnectRequest { session, namespace, auth } => {
            let _ = if auth.is_some_and(|a| a.len() % 2 == 0) {
                io.accept(&session, &namespace)
            } else {
                io.refuse(&session, &namespace, "no", None)
            };
        }
        AppEvent::Event { namespace, socket, name, args, ack } => {
            if let Some(id) = ack {
                let _ = io.ack(&namespace, &socket, id, args.clone());
            }
            match name.len() % 4 {
                0 => drop(io.socket(&namespace, &socket).join(&name)),
                1 => drop(io.of(&namespace).to(&name).emit("echo", args)),
                2 => drop(io.socket(&namespace, &socket).broadcast().timeout(Duration::from_secs(1)).emit_with_ack("q", args)),
                _ => drop(io.socket(&namespace, &socket).disconnect(name.len() % 8 == 3)),
            }
        }
        _ => {}
    }
}
