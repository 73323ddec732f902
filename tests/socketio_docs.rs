//! Every command that `docs/socketio.md` and `labs/07-socketio-events.md` show must work:
//! netlab commands parse and run (a client against a live netlab server on a port the
//! kernel picks, substituted for the guide's 3000; the server itself runs until Ctrl-C and
//! is started here in the background instead).

mod common;

use clap::Parser;
use common::{console_commands, netlab, netlab_argv, Background};

const FILES: [&str; 2] = ["docs/socketio.md", "labs/07-socketio-events.md"];

#[test]
fn every_netlab_command_in_the_guides_parses_and_runs() {
    let (server, first) = Background::start(&[
        "socketio".to_owned(),
        "server".to_owned(),
        "--port".to_owned(),
        "0".to_owned(),
    ]);
    let url = first["url"].as_str().expect("the first line names the URL");
    let port = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .nth(1)
        .expect("a port in the URL")
        .to_owned();
    let mut ran = 0;
    for file in FILES {
        let cmds = console_commands(file);
        assert!(!cmds.is_empty(), "{file} shows no commands");
        for cmd in &cmds {
            let Some(argv) = netlab_argv(cmd) else {
                panic!("{file}: `{cmd}` runs no netlab");
            };
            if let Err(e) = netlab::cli::Cli::try_parse_from(&argv) {
                panic!("{file}: `{cmd}` does not parse:\n{e}");
            }
            if cmd.contains(" socketio server") {
                continue; // runs until Ctrl-C: the one started above stands for it
            }
            let live: Vec<String> = argv
                .iter()
                .skip(1)
                .map(|a| a.replace("127.0.0.1:3000", &format!("127.0.0.1:{port}")))
                .collect();
            let args: Vec<&str> = live.iter().map(String::as_str).collect();
            let r = netlab(&args);
            assert_eq!(r.code(), 0, "{file}: `{cmd}` failed:\n{}", r.stderr);
            assert!(!r.stdout.is_empty(), "{file}: `{cmd}` printed nothing");
            ran += 1;
        }
    }
    drop(server);
    assert!(ran >= 5, "only {ran} commands ran");
}
