//! The output the guides show is the output netlab gives. Every ```console excerpt in
//! `docs/websocket.md` and `docs/tcp-connections.md` that shows output under its `$ `
//! line is run, and each line the page shows must appear in what netlab printed, in the
//! page's order; a line `…` stands for lines the page leaves out. The excerpts read
//! shipped captures, so nothing in them varies from run to run (timestamps are printed
//! in UTC, as recorded).

mod common;

use common::{console_sessions, netlab, netlab_argv};

const PAGES: [&str; 2] = ["docs/websocket.md", "docs/tcp-connections.md"];

/// Where the page's lines first differ from the output, if they do: each shown line
/// (trailing spaces aside) must be a whole line of `actual`, after the previous one.
fn first_missing<'a>(shown: &'a str, actual: &str) -> Option<&'a str> {
    let mut lines = actual.lines().map(str::trim_end);
    shown
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && l.trim() != "…")
        .find(|want| !lines.any(|got| got == *want))
}

#[test]
fn every_output_excerpt_in_the_guides_is_what_netlab_prints() {
    let mut checked = 0;
    for page in PAGES {
        for (line, shown) in console_sessions(page) {
            if shown.trim().is_empty() {
                continue;
            }
            let argv = netlab_argv(&line).unwrap_or_else(|| panic!("{page}: `{line}`"));
            let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            let r = netlab(&args);
            assert_eq!(r.code(), 0, "{page}: `{line}`: {}", r.stderr);
            if let Some(missing) = first_missing(&shown, &r.stdout) {
                panic!(
                    "{page}: `{line}` shows\n{missing}\nwhich netlab does not print (in that \
                     order); it printed:\n{}",
                    r.stdout
                );
            }
            checked += 1;
        }
    }
    // The five excerpts the pages show today: a page that lost its output would not be
    // checked at all.
    assert!(checked >= 5, "only {checked} excerpts with output");
}

#[test]
fn a_line_the_page_shows_that_netlab_does_not_print_is_caught() {
    let out = "a\nb\nc\n";
    assert_eq!(first_missing("a\n…\nc\n", out), None);
    assert_eq!(first_missing("c\na\n", out), Some("a"), "order counts");
    assert_eq!(first_missing("a\nx\n", out), Some("x"));
}
