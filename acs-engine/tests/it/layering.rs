//! The crate's layering, checked: each top-level module of `acs-engine/src` may use only
//! the modules below it in [`LAYERS`] (ARCHITECTURE.md, "Layers"). A `crate::…` path in
//! code (comments do not count) that names a module at or above its own fails the test,
//! so no two modules can come to depend on each other, directly or through others.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The top-level modules, lowest first.
const LAYERS: &[&str] = &[
    "source",
    "diagnostic",
    "syntax",
    "limits",
    "velocity",
    "functions",
    "ruleset",
    "decision",
    "metrics",
    "input",
    "plan",
    "eval",
    "stubs",
    "compile",
    "expression",
    "explain",
    "audit",
    "engine",
    "lint",
    "testing",
    "backtest",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `text` without its comments (line and block): a path in a doc link is documentation,
/// not a dependency. String contents are kept (a `//` in a string is no comment), so a
/// `crate::` path spelt in a string counts: the check errs towards reporting.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The first segment of every `crate::…` path in `code`, with the line it is on; a group
/// (`crate::{a::X, b}`) gives each of its members.
fn crate_paths(code: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let mut rest = code;
    let mut offset = 0;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let start = at + "crate::".len();
        let tail = &rest[start..];
        let line = code[..offset + at].matches('\n').count() + 1;
        // `acs_crate::x` or `some_crate::x` is not this crate.
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            if let Some(group) = tail.strip_prefix('{') {
                let mut depth = 1;
                let mut member_start = true;
                let mut name = String::new();
                for c in group.chars() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 1 => member_start = true,
                        c if member_start && (c.is_alphanumeric() || c == '_') => name.push(c),
                        _ if member_start && !name.is_empty() => {
                            found.push((std::mem::take(&mut name), line));
                            member_start = false;
                        }
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
                if !name.is_empty() {
                    found.push((name, line));
                }
            } else {
                let name: String = tail
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push((name, line));
            }
        }
        offset += start;
        rest = tail;
    }
    found
}

/// Every `crate::` path that crosses the layering, as `file:line: a -> b` lines.
fn violations() -> Vec<String> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let rank = |module: &str| LAYERS.iter().position(|m| *m == module);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative.components().next().unwrap();
        let module = first.as_os_str().to_str().unwrap().trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let own = rank(module).unwrap_or_else(|| panic!("`{module}` is not in LAYERS"));
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for (target, line) in crate_paths(&code) {
            let place = format!("src/{}:{line}", relative.display());
            if target == module {
                continue;
            }
            match rank(&target) {
                Some(other) if other < own => {}
                Some(_) => found.push(format!(
                    "{place}: `{module}` uses `{target}`, a layer at or above it"
                )),
                None => found.push(format!(
                    "{place}: `crate::{target}` names no module; name the module that owns it"
                )),
            }
        }
    }
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let found = violations();
    assert!(
        found.is_empty(),
        "imports that cross the layering (ARCHITECTURE.md, \"Layers\"):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layers_are_exactly_the_crate_s_modules() {
    let lib = code_of(&std::fs::read_to_string(src().join("lib.rs")).unwrap());
    let declared: BTreeSet<&str> = lib
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    let layers: BTreeSet<&str> = LAYERS.iter().copied().collect();
    assert_eq!(declared, layers);
}

#[test]
fn the_checker_sees_paths_in_code_groups_and_strings_but_not_in_comments() {
    let code = code_of(
        "use crate::eval::x; // crate::engine\n/// [`E`](crate::engine::E)\nuse crate::{plan::{A, B}, source};\nlet s = \"crate::lint\"; my_crate::testing::x();\n/* crate::backtest */",
    );
    let names: Vec<String> = crate_paths(&code).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["eval", "plan", "source", "lint"]);
}
