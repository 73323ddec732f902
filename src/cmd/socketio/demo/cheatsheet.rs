//! The course's emit cheatsheet, run line by line against six clients: five in `/`, in
//! different rooms, one in `/admin`. Each client records every Engine.IO message it
//! receives; a line's row in the table is who received its `cheat` event.

use super::app::ADMIN;
use super::{next_heard, READ_LIMIT};
use crate::error::HintExt;
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::ws::WsConfig;
use crate::wire::application::socketio::{Data, EngineMessage};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;

/// What a cheatsheet line does, as the demo's application runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    SocketEmit,
    IoEmit,
    Broadcast,
    ToRoom,
    ToRoomsExcept,
    SocketToRoom,
    OfNamespace,
    Private,
    ToSelf,
    IoLocalEmit,
    Volatile,
    SocketTimeout,
    IoTimeout,
}

/// One line of the cheatsheet: the JavaScript a course shows, and what it does here.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    pub code: &'static str,
    pub op: Op,
}

/// The cheatsheet, in the order it runs. The sender (`socket`) is always client A.
pub const LINES: [Line; 13] = [
    Line {
        code: "socket.emit(\"cheat\", i)",
        op: Op::SocketEmit,
    },
    Line {
        code: "io.emit(\"cheat\", i)",
        op: Op::IoEmit,
    },
    Line {
        code: "socket.broadcast.emit(\"cheat\", i)",
        op: Op::Broadcast,
    },
    Line {
        code: "io.to(\"room1\").emit(\"cheat\", i)",
        op: Op::ToRoom,
    },
    Line {
        code: "io.to([\"room1\", \"room2\"]).except(\"room3\").emit(\"cheat\", i)",
        op: Op::ToRoomsExcept,
    },
    Line {
        code: "socket.to(\"room1\").emit(\"cheat\", i)",
        op: Op::SocketToRoom,
    },
    Line {
        code: "io.of(\"/admin\").emit(\"cheat\", i)",
        op: Op::OfNamespace,
    },
    Line {
        code: "socket.to(idOfB).emit(\"cheat\", i)   (private)",
        op: Op::Private,
    },
    Line {
        code: "socket.to(socket.id).emit(\"cheat\", i)",
        op: Op::ToSelf,
    },
    Line {
        code: "io.local.emit(\"cheat\", i)",
        op: Op::IoLocalEmit,
    },
    Line {
        code: "socket.volatile.emit(\"cheat\", i)",
        op: Op::Volatile,
    },
    Line {
        code: "socket.timeout(2000).emit(\"cheat\", i, (err, answer) => …)",
        op: Op::SocketTimeout,
    },
    Line {
        code: "io.timeout(2000).emit(\"cheat\", i, (err, answers) => …)",
        op: Op::IoTimeout,
    },
];

/// The six clients: name, namespace, rooms.
pub const MEMBERS: [(&str, &str, &[&str]); 6] = [
    ("A", "/", &["room1"]),
    ("B", "/", &["room1", "room2"]),
    ("C", "/", &["room2"]),
    ("D", "/", &["room3"]),
    ("E", "/", &["room2", "room3"]),
    ("F", ADMIN, &[]),
];

/// One of the six clients, as the table heads it.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub name: &'static str,
    pub namespace: &'static str,
    pub rooms: Vec<&'static str>,
    /// Its socket id, from the server's CONNECT answer.
    pub socket: String,
    /// Every Engine.IO message (its Socket.IO packet's text) it received during the
    /// cheatsheet, in order.
    pub heard: Vec<String>,
}

/// One line's row: who received its event.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub code: &'static str,
    pub received_by: Vec<&'static str>,
    /// For an emit with ack: whose answers reached the server, as the sender was told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<Vec<String>>,
}

/// The cheatsheet's result.
#[derive(Debug, Clone, Serialize)]
pub struct Cheatsheet {
    pub members: Vec<Member>,
    pub rows: Vec<Row>,
}

struct Client {
    member: Member,
    sio: SioClient,
}

/// Connect the six clients, join their rooms, run every line.
pub async fn run(port: u16) -> anyhow::Result<Cheatsheet> {
    let mut clients = Vec::new();
    for (name, namespace, rooms) in MEMBERS {
        clients.push(connect(port, name, namespace, rooms).await?);
    }
    let mut rows = Vec::new();
    for (i, line) in LINES.iter().enumerate() {
        let sender = &mut clients[0].sio;
        sender
            .emit("line", vec![json!(i).into()], false)
            .await
            .failed("client A could not emit")?;
        let (back, heard) = read_all(clients, i).await?;
        clients = back;
        let mut received_by = Vec::new();
        let mut answers = None;
        for (c, h) in clients.iter().zip(&heard) {
            if h.received {
                received_by.push(c.member.name);
            }
            if h.answers.is_some() {
                answers.clone_from(&h.answers);
            }
        }
        rows.push(Row {
            code: line.code,
            received_by,
            answers,
        });
    }
    let mut members = Vec::new();
    for mut c in clients {
        let _ = c.sio.disconnect().await;
        members.push(c.member);
    }
    Ok(Cheatsheet { members, rows })
}

async fn connect(
    port: u16,
    name: &'static str,
    namespace: &'static str,
    rooms: &[&'static str],
) -> anyhow::Result<Client> {
    let auth = json!({ "name": name });
    let auth = auth.as_object().cloned();
    let mut sio = SioClient::connect("127.0.0.1", port, namespace, auth, WsConfig::default())
        .await
        .failed(format!("client {name} could not connect"))?;
    let socket = loop {
        if let Heard::Connected { sid } = next_heard(&mut sio).await? {
            break sid;
        }
    };
    for room in rooms {
        let id = sio
            .emit("join", vec![json!(room).into()], true)
            .await
            .failed("could not ask to join a room")?;
        loop {
            if let Heard::Ack { id: got, .. } = next_heard(&mut sio).await? {
                if Some(got) == id {
                    break;
                }
            }
        }
    }
    sio.take_wire();
    let member = Member {
        name,
        namespace,
        rooms: rooms.to_vec(),
        socket,
        heard: Vec::new(),
    };
    Ok(Client { member, sio })
}

/// What one client heard during one line.
#[derive(Debug, Default)]
struct Heard1 {
    received: bool,
    answers: Option<Vec<String>>,
}

/// Every client reads, at once, until the line's fence; each answers any event that asks
/// for an acknowledgement with its name.
async fn read_all(clients: Vec<Client>, i: usize) -> anyhow::Result<(Vec<Client>, Vec<Heard1>)> {
    let mut set = JoinSet::new();
    for (k, c) in clients.into_iter().enumerate() {
        set.spawn(async move { (k, read_line(c, i).await) });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        let (k, r) = r?;
        done.push((k, r?));
    }
    done.sort_by_key(|(k, _)| *k);
    Ok(done.into_iter().map(|(_, c)| c).unzip())
}

async fn read_line(mut c: Client, i: usize) -> anyhow::Result<(Client, Heard1)> {
    let mut heard = Heard1::default();
    let index = |args: &[Data]| args.first().and_then(Data::as_json).and_then(Value::as_u64);
    // Bounded: a line sends each client at most its event, the answers and the fence.
    for _ in 0..READ_LIMIT {
        let h = next_heard(&mut c.sio).await?;
        for w in c.sio.take_wire() {
            if let (false, EngineMessage::Text(t)) = (w.outgoing, w.message) {
                c.member.heard.push(t);
            }
        }
        let Heard::Event { name, args, ack } = h else {
            continue;
        };
        if let Some(id) = ack {
            c.sio
                .ack(id, vec![json!(c.member.name).into()])
                .await
                .failed("could not answer an acknowledgement")?;
        }
        match name.as_str() {
            "cheat" if index(&args) == Some(i as u64) => heard.received = true,
            "answers" => {
                let from = args
                    .first()
                    .and_then(Data::as_json)
                    .map(|v| v["answers"].clone());
                heard.answers = from.and_then(|v| serde_json::from_value(v).ok());
            }
            "done" if index(&args) == Some(i as u64) => return Ok((c, heard)),
            _ => {}
        }
    }
    anyhow::bail!("client {} never saw the end of line {i}", c.member.name)
}
