//! `netlab socketio demo`: the table says what the clients really received, the
//! cheatsheet's rows follow from the rooms, and every step's facts are the protocol's.

mod common;

use common::netlab_with_limit;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

fn demo() -> Value {
    let r = netlab_with_limit(&["socketio", "demo", "--json"], Duration::from_secs(60));
    assert_eq!(r.code(), 0, "{}", r.stderr);
    r.json()
}

/// The line index of a received `cheat` event, from the Socket.IO packet's text
/// (`2["cheat",3]`, `2/admin,["cheat",6]`, `27["cheat",11]` with an ack id).
fn cheat_line(packet: &str) -> Option<u64> {
    let rest = packet.strip_prefix('2')?;
    let rest = match rest.strip_prefix('/') {
        Some(r) => r.split_once(',')?.1,
        None => rest,
    };
    let json = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let v: Vec<Value> = serde_json::from_str(json).ok()?;
    (v.first()?.as_str()? == "cheat").then(|| v.get(1)?.as_u64())?
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_cheatsheet_table_is_what_the_clients_received_and_what_the_rules_say() {
    let report = demo();
    let c = &report["cheatsheet"];
    let members = c["members"].as_array().unwrap();
    let rows = c["rows"].as_array().unwrap();
    assert_eq!(members.len(), 6);
    assert_eq!(rows.len(), 13);
    // Each cell against the packets the client recorded.
    for (i, row) in rows.iter().enumerate() {
        let table = names(&row["received_by"]);
        for m in members {
            let name = m["name"].as_str().unwrap();
            let got = m["heard"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| cheat_line(p.as_str().unwrap()))
                .filter(|&l| l == i as u64)
                .count();
            assert!(got <= 1, "{name} received line {i} {got} times");
            assert_eq!(
                table.contains(name),
                got == 1,
                "line {i} ({}): the table and {name}'s packets disagree",
                row["code"]
            );
        }
    }
    // The rows against the rules, computed from the rooms the report shows.
    let in_ns = |ns: &str| -> BTreeSet<String> {
        members
            .iter()
            .filter(|m| m["namespace"] == ns)
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let room = |r: &str| -> BTreeSet<String> {
        members
            .iter()
            .filter(|m| m["rooms"].as_array().unwrap().iter().any(|x| x == r))
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let a: BTreeSet<String> = ["A".to_owned()].into();
    let b: BTreeSet<String> = ["B".to_owned()].into();
    let all = in_ns("/");
    let not_a = &all - &a;
    let rooms12 = &(&room("room1") | &room("room2")) - &room("room3");
    let expected: [BTreeSet<String>; 13] = [
        a.clone(),
        all.clone(),
        not_a,
        room("room1"),
        rooms12,
        &room("room1") - &a,
        in_ns("/admin"),
        b,
        BTreeSet::new(),
        all.clone(),
        a.clone(),
        a.clone(),
        all.clone(),
    ];
    for (i, (row, want)) in rows.iter().zip(&expected).enumerate() {
        assert_eq!(
            &names(&row["received_by"]),
            want,
            "line {i}: {}",
            row["code"]
        );
    }
    assert_eq!(names(&rows[11]["answers"]), a, "socket.timeout: A answers");
    assert_eq!(
        names(&rows[12]["answers"]),
        all,
        "io.timeout: every client of /"
    );
}

#[test]
fn the_steps_show_the_handshake_upgrade_heartbeat_volatile_and_recovery() {
    let report = demo();
    let s = &report["session"];
    assert!(s["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u == "websocket"));
    assert_ne!(s["socket"], s["sid"], "a socket id is not the session id");
    assert_ne!(s["socket"], s["admin_socket"]);
    assert_eq!(s["ack_answer"], "431[5]");
    assert_eq!(s["released_get"], serde_json::json!(["6"]), "the noop");
    assert!(s["after_upgrade"]
        .as_str()
        .unwrap()
        .starts_with("42[\"welcome\""));
    let steps = report["steps"].as_array().unwrap();
    let upgrade = steps
        .iter()
        .find(|st| st["title"].as_str().unwrap().contains("upgrade"))
        .unwrap();
    let texts: Vec<&str> = upgrade["wire"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts[..4], ["2probe", "3probe", "6", "5"]);

    let h = &report["heartbeat"];
    assert_eq!(h["reason"], "ping timeout");
    assert_eq!(h["pings_after_ms"].as_array().unwrap().len(), 2);

    let r = &report["recovery"];
    assert_eq!(r["recovered"], true);
    assert_eq!(r["socket_before"], r["socket_after"]);
    let replayed: Vec<&str> = r["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert!(
        replayed[0].starts_with("news [\"while X was away\","),
        "{replayed:?}"
    );
}

/// The server's rule: a volatile event is dropped when the transport cannot take it now,
/// here a polling client with no GET waiting; the event after it is delivered.
#[test]
fn a_volatile_event_to_a_polling_client_with_no_get_waiting_is_dropped() {
    let report = demo();
    let v = &report["volatile"];
    assert_eq!(v["delivered"], serde_json::json!(["42[\"tick\",2]"]), "{v}");
    assert_eq!(v["dropped"], true);
}

#[test]
fn the_human_output_has_the_table_and_its_findings() {
    let r = netlab_with_limit(&["socketio", "demo"], Duration::from_secs(60));
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for needle in [
        "The emit cheatsheet, line by line",
        "socket.to(socket.id).emit(\"cheat\", i)",
        "socket.to(socket.id) reached nobody",
        "io.local.emit reached the same clients as io.emit",
        "2probe",
        "reason `ping timeout`",
        "the server reported the socket as recovered",
    ] {
        assert!(r.stdout.contains(needle), "{needle}:\n{}", r.stdout);
    }
}
