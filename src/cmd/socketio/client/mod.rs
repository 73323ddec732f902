//! `netlab socketio client URL`: join a namespace over WebSocket, emit what you type, see
//! what the server emits.

use super::{shown, Line};
use crate::cli::socketio::ClientArgs;
use crate::error::{usage, HintExt};
use crate::net::socketio::client::{Heard, SioClient};
use crate::net::socketio::Direction;
use crate::net::ws::{WsConfig, WsUrl};
use crate::output::{Output, Paint, Render, Style};
use crate::wire::application::socketio::Data;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// A validated client plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub host: String,
    pub port: u16,
    pub namespace: String,
    pub trace: bool,
}

impl TryFrom<ClientArgs> for Plan {
    type Error = anyhow::Error;
    fn try_from(a: ClientArgs) -> anyhow::Result<Plan> {
        let as_ws = match a.url.strip_prefix("http://") {
            Some(rest) => format!("ws://{rest}"),
            None => a.url.clone(),
        };
        let url: WsUrl = as_ws.parse().map_err(|e: String| {
            usage(
                e,
                "give the server as http://HOST:PORT, e.g. http://127.0.0.1:3000",
            )
        })?;
        if !a.namespace.starts_with('/') {
            return Err(usage(
                format!("'{}' is not a namespace", a.namespace),
                "a namespace starts with /, as /admin",
            ));
        }
        Ok(Plan {
            host: url.host,
            port: url.port,
            namespace: a.namespace,
            trace: a.trace,
        })
    }
}

/// How long the end of input waits for the answers still awaited.
const LINGER: Duration = Duration::from_secs(2);

/// What the client prints.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClientLine {
    /// The namespace let the socket in.
    Connected {
        namespace: String,
        socket: String,
        session: String,
    },
    ConnectError {
        payload: Value,
    },
    /// An event from the server.
    Event {
        name: String,
        args: Vec<Value>,
        ack: Option<u64>,
    },
    /// The answer to one of our emits with ack.
    Ack {
        id: u64,
        args: Vec<Value>,
    },
    /// Our emit left (with `ack`, the id its answer will carry).
    Sent {
        name: String,
        ack: Option<u64>,
    },
    Disconnected {
        reason: String,
    },
    /// A typed line that is not a command.
    Note {
        text: String,
    },
}

impl Render for ClientLine {
    fn render_human(&self, style: &Style) -> String {
        let json = |v: &[Value]| serde_json::to_string(v).unwrap_or_default();
        match self {
            ClientLine::Connected {
                namespace, socket, ..
            } => format!(
                "{} {namespace} as socket {socket}",
                style.paint(Paint::Good, "joined")
            ),
            ClientLine::ConnectError { payload } => {
                format!("{} {payload}", style.paint(Paint::Bad, "refused:"))
            }
            ClientLine::Event { name, args, ack } => {
                let ack = ack.map_or(String::new(), |id| format!(" (acknowledged, id {id})"));
                format!("← event {name:?} {}{ack}", json(args))
            }
            ClientLine::Ack { id, args } => format!("← ack {id} {}", json(args)),
            ClientLine::Sent { name, ack } => match ack {
                Some(id) => format!("→ event {name:?} (asks ack {id})"),
                None => format!("→ event {name:?}"),
            },
            ClientLine::Disconnected { reason } => format!("disconnected: {reason}"),
            ClientLine::Note { text } => style.paint(Paint::Warn, text),
        }
    }
}

/// A typed line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Emit {
        name: String,
        args: Vec<Value>,
        ack: bool,
    },
    Disconnect,
    Nothing,
    Bad(String),
}

/// `emit EVENT ARGS…`, `ack EVENT ARGS…`, `disconnect`. Each argument is a JSON value;
/// a word that is not JSON is a string.
pub fn parse_command(line: &str) -> Command {
    let line = line.trim();
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    match verb {
        "" => Command::Nothing,
        "disconnect" | "quit" => Command::Disconnect,
        "emit" | "ack" => {
            let rest = rest.trim_start();
            let (name, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            if name.is_empty() {
                return Command::Bad(format!("{verb} needs an event name: {verb} EVENT [ARG…]"));
            }
            Command::Emit {
                name: name.to_owned(),
                args: parse_args(rest),
                ack: verb == "ack",
            }
        }
        _ => Command::Bad(format!(
            "unknown command {verb:?}: type emit EVENT [ARG…], ack EVENT [ARG…] or disconnect"
        )),
    }
}

/// JSON values one after the other; from the first that is not JSON, words as strings.
fn parse_args(mut rest: &str) -> Vec<Value> {
    let mut args = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return args;
        }
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match values.next() {
            Some(Ok(v)) if ends_a_word(&rest[values.byte_offset()..]) => {
                args.push(v);
                rest = &rest[values.byte_offset()..];
            }
            _ => {
                let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                args.push(Value::String(word.to_owned()));
                rest = after;
            }
        }
    }
}

/// Does a JSON value end here (`42abc` is a word, not the number 42)?
fn ends_a_word(after: &str) -> bool {
    after.chars().next().is_none_or(char::is_whitespace)
}

/// Connect, then emit what is typed and print what arrives.
pub async fn run(plan: Plan, out: &mut Output) -> anyhow::Result<()> {
    let cfg = WsConfig {
        idle_timeout: Duration::from_secs(3600),
        ..WsConfig::default()
    };
    let mut client = SioClient::connect(&plan.host, plan.port, &plan.namespace, None, cfg)
        .await
        .hinted(
            format!("could not connect to {}:{}", plan.host, plan.port),
            "is a Socket.IO server listening there? (netlab socketio server --port 3000)",
        )?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut awaited = BTreeSet::new();
    let mut input_open = true;
    // Typed lines wait for the namespace's answer, as the real client buffers its emits.
    let mut connected = false;
    // Armed (reset) when the input ends with answers still awaited.
    let linger = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(linger);
    loop {
        trace(&mut client, &plan, out)?;
        tokio::select! {
            line = lines.next_line(), if input_open && connected => {
                let line = line.ok().flatten();
                let command = line.as_deref().map_or(Command::Disconnect, parse_command);
                match command {
                    Command::Emit { name, args, ack } => {
                        let args = args.into_iter().map(Data::from).collect();
                        let id = client.emit(&name, args, ack).await.failed("could not send")?;
                        awaited.extend(id);
                        out.event(&ClientLine::Sent { name, ack: id })?;
                    }
                    Command::Disconnect if line.is_none() && !awaited.is_empty() => {
                        input_open = false;
                        linger.as_mut().reset(tokio::time::Instant::now() + LINGER);
                    }
                    Command::Disconnect => break,
                    Command::Nothing => {}
                    Command::Bad(text) => out.event(&ClientLine::Note { text })?,
                }
            }
            heard = client.next() => {
                let heard = heard.failed("reading from the server")?;
                match &heard {
                    Heard::Ack { id, .. } => { awaited.remove(id); }
                    Heard::Connected { .. } => connected = true,
                    _ => {}
                }
                if let Heard::Event { ack: Some(id), .. } = &heard {
                    client.ack(*id, Vec::new()).await.failed("could not send")?;
                }
                let ended = matches!(
                    heard,
                    Heard::Closed { .. } | Heard::Disconnected | Heard::ConnectError { .. }
                );
                out.event(&line_of(heard, &plan, &client))?;
                if ended {
                    trace(&mut client, &plan, out)?;
                    return Ok(());
                }
                if !input_open && awaited.is_empty() {
                    break;
                }
            }
            () = &mut linger, if !input_open => break,
        }
    }
    client.disconnect().await.failed("could not disconnect")?;
    trace(&mut client, &plan, out)?;
    out.event(&ClientLine::Disconnected {
        reason: "io client disconnect".to_owned(),
    })?;
    Ok(())
}

fn line_of(heard: Heard, plan: &Plan, client: &SioClient) -> ClientLine {
    let all = |args: Vec<Data>| args.iter().map(shown).collect();
    match heard {
        Heard::Connected { sid } => ClientLine::Connected {
            namespace: plan.namespace.clone(),
            socket: sid,
            session: client.open.sid.clone(),
        },
        Heard::ConnectError { payload } => ClientLine::ConnectError { payload },
        Heard::Event { name, args, ack } => ClientLine::Event {
            name,
            args: all(args),
            ack,
        },
        Heard::Ack { id, args } => ClientLine::Ack {
            id,
            args: all(args),
        },
        Heard::Disconnected => ClientLine::Disconnected {
            reason: "io server disconnect".to_owned(),
        },
        Heard::Closed { reason } => ClientLine::Disconnected {
            reason: reason.to_owned(),
        },
    }
}

/// With `--trace`, the Engine.IO messages that went in and out.
fn trace(client: &mut SioClient, plan: &Plan, out: &mut Output) -> anyhow::Result<()> {
    let wire = client.take_wire();
    if plan.trace {
        let session = client.open.sid.clone();
        for w in wire {
            // `Direction` speaks of the client's side: `In` is from the client.
            let direction = if w.outgoing {
                Direction::In
            } else {
                Direction::Out
            };
            out.event(&Line::packet(&session, direction, &w.message))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_commands() {
        assert_eq!(
            parse_command(r#"emit hello "a b" 42 {"x": [1, 2]} word 7up"#),
            Command::Emit {
                name: "hello".into(),
                args: vec![
                    json!("a b"),
                    json!(42),
                    json!({"x": [1, 2]}),
                    json!("word"),
                    json!("7up")
                ],
                ack: false,
            }
        );
        assert_eq!(
            parse_command("ack q"),
            Command::Emit {
                name: "q".into(),
                args: vec![],
                ack: true
            }
        );
        assert_eq!(parse_command("  "), Command::Nothing);
        assert_eq!(parse_command("disconnect"), Command::Disconnect);
        assert!(matches!(parse_command("emit"), Command::Bad(_)));
        assert!(matches!(parse_command("dance"), Command::Bad(_)));
    }
}
