//! Every command that `docs/websocket.md` and `labs/04-websocket-by-hand.md` show must
//! work: netlab commands parse, and are run (clients against a live server on a port the
//! kernel picks, substituted for the guide's 9001); shell pipelines run and give the
//! RFC's numbers.

mod common;
mod ws_support;

use clap::Parser;
use common::{console_commands, netlab};
use ws_support::Server;

const FILES: [&str; 2] = ["docs/websocket.md", "labs/04-websocket-by-hand.md"];

#[test]
fn every_netlab_command_in_the_guides_parses_and_runs() {
    let server = Server::start(&["--quiet"]);
    let mut ran = 0;
    for file in FILES {
        let cmds = console_commands(file);
        assert!(!cmds.is_empty(), "{file} shows no commands");
        for cmd in cmds.iter().filter(|c| c.starts_with("netlab ")) {
            let argv: Vec<&str> = cmd.split_whitespace().collect();
            if let Err(e) = netlab::cli::Cli::try_parse_from(&argv) {
                panic!("{file}: `{cmd}` does not parse:\n{e}");
            }
            if cmd.contains(" ws server") {
                continue; // runs until Ctrl-C; covered by tests/ws.rs
            }
            let live = cmd.replace("127.0.0.1:9001", &format!("127.0.0.1:{}", server.port));
            let args: Vec<&str> = live.split_whitespace().skip(1).collect();
            let r = netlab(&args);
            assert_eq!(r.code(), 0, "{file}: `{cmd}` failed:\n{}", r.stderr);
            assert!(!r.stdout.is_empty(), "{file}: `{cmd}` printed nothing");
            ran += 1;
        }
    }
    assert!(ran >= 5, "only {ran} commands ran");
}

#[test]
fn the_shell_pipelines_give_the_rfc_values() {
    for file in FILES {
        for cmd in console_commands(file)
            .iter()
            .filter(|c| !c.starts_with("netlab "))
        {
            let tool = cmd
                .split('|')
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .unwrap_or("sh");
            let have = std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !have {
                common::skip(&format!("`{cmd}` needs {tool}, which is not installed"));
                continue;
            }
            let out = std::process::Command::new("sh")
                .args(["-c", cmd])
                .output()
                .unwrap();
            assert!(out.status.success(), "{file}: `{cmd}` failed");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("b37a4f2cc0624f1690f64606cf385945b2bec4ea")
                    || text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                "{file}: `{cmd}` gave {text}"
            );
        }
    }
}
