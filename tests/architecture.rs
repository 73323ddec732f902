//! The house rules of `docs/architecture.md`, checked on the source itself: dependencies
//! point down (`main → app → cmd → net → wire → layers`, with `output` beside `cmd`),
//! `wire/` stays pure, only `output/` prints, and no file or function grows past what a
//! reader can hold. Each rule names the files that break it.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its path relative to `src/` (`wire/tcp.rs`).
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    assert!(
        sources.len() > 50,
        "expected netlab's sources under {src:?}"
    );
    sources
}

/// The lines of a file that are code: before its `#[cfg(test)]` module, comments dropped.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| !l.starts_with("#[cfg(test)]"))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
}

/// `file:line: text` for every code line of the files under `folder` that contains one of
/// `needles`.
fn offenders(folders: &[&str], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources() {
        if !folders.iter().any(|f| path.starts_with(f)) {
            continue;
        }
        for (n, line) in code_lines(&text) {
            if let Some(needle) = needles.iter().find(|needle| line.contains(*needle)) {
                found.push(format!("src/{path}:{n}: `{needle}` in {}", line.trim()));
            }
        }
    }
    found
}

#[test]
fn wire_is_pure_no_io_clock_randomness_or_printing() {
    // Addresses are plain values: wire takes them from `core::net`, which has no sockets.
    let bad = offenders(
        &["wire/"],
        &[
            "std::net",
            "std::fs",
            "std::io",
            "std::env",
            "std::thread",
            "std::process",
            "tokio",
            "socket2",
            "pnet",
            "Instant",
            "SystemTime",
            "getrandom",
            "rand::",
            "println!",
            "print!(",
            "eprintln!",
            "eprint!(",
            "dbg!(",
        ],
    );
    assert!(bad.is_empty(), "wire/ must stay pure:\n{}", bad.join("\n"));
}

#[test]
fn imports_point_down() {
    let rules: [(&[&str], &[&str]); 4] = [
        // wire knows only itself and the layer models.
        (
            &["wire/"],
            &[
                "crate::app",
                "crate::cli",
                "crate::cmd",
                "crate::net",
                "crate::output",
                "crate::error",
            ],
        ),
        // net is I/O over wire; it never reaches up to a lab, the printer or the CLI.
        (
            &["net/"],
            &["crate::app", "crate::cli", "crate::cmd", "crate::output"],
        ),
        // output renders wire, layers and reports handed to it; it runs nothing.
        (
            &["output/"],
            &["crate::app", "crate::cli", "crate::cmd", "crate::net"],
        ),
        // Only main.rs calls app; nothing below it imports it.
        (
            &[
                "cmd/",
                "layers.rs",
                "error.rs",
                "vocabulary.rs",
                "labs.rs",
                "cli/",
            ],
            &["crate::app"],
        ),
    ];
    let mut bad = Vec::new();
    for (folders, needles) in rules {
        bad.extend(offenders(folders, needles));
    }
    assert!(bad.is_empty(), "imports that point up:\n{}", bad.join("\n"));
}

#[test]
fn only_output_prints() {
    let mut bad = Vec::new();
    for (path, text) in sources() {
        if path.starts_with("output/") || path == "main.rs" {
            continue;
        }
        for (n, line) in code_lines(&text) {
            for needle in ["println!", "print!(", "eprintln!", "eprint!(", "dbg!("] {
                if line.contains(needle) {
                    bad.push(format!("src/{path}:{n}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "printing outside output/:\n{}",
        bad.join("\n")
    );
}

/// About 900 lines before a file's tests, about 80 lines a function: past that, a reader
/// loses the thread. The limits have a little slack so that a file is split along the
/// lines its doc draws, not cut at an arbitrary line.
const MAX_FILE_LINES: usize = 900;
const MAX_FN_LINES: usize = 90;

#[test]
fn files_and_functions_stay_readable() {
    let mut bad = Vec::new();
    for (path, text) in sources() {
        let code: Vec<&str> = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .collect();
        if code.len() > MAX_FILE_LINES {
            bad.push(format!("src/{path}: {} lines before its tests", code.len()));
        }
        bad.extend(
            long_functions(&code)
                .map(|(name, at, len)| format!("src/{path}:{at}: fn {name} is {len} lines")),
        );
    }
    assert!(bad.is_empty(), "too long to read:\n{}", bad.join("\n"));
}

/// Functions longer than [`MAX_FN_LINES`]: from a line that starts a `fn` to the line that
/// closes it at the same indentation (rustfmt's layout).
fn long_functions<'a>(code: &'a [&'a str]) -> impl Iterator<Item = (String, usize, usize)> + 'a {
    code.iter().enumerate().filter_map(|(i, line)| {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let after_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "async fn ",
            "pub async fn ",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p))?;
        let name: String = after_fn
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The body opens on the line that ends with `{`; a declaration ends with `;` first,
        // and a one-line body closes on its own line.
        let open = code[i..]
            .iter()
            .position(|l| l.ends_with('{') || l.ends_with(';') || l.ends_with('}'))?;
        if !code[i + open].ends_with('{') {
            return None;
        }
        let close = " ".repeat(indent) + "}";
        let len = code[i..].iter().position(|l| *l == close)? + 1;
        (len > MAX_FN_LINES).then_some((name, i + 1, len))
    })
}
