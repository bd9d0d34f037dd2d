//! The crate docs checked against the code: the error table's rows against
//! the `Error` enum and the tests they name, the guarantees comments cite
//! by number against the numbered list, and the documents comments name
//! against the repository.

use std::fs;
use std::path::{Path, PathBuf};

const LIB: &str = include_str!("lib.rs");
const ERROR: &str = include_str!("error.rs");

/// Where the sources checked against the docs live, from the crate root.
const SOURCES: [&str; 7] = [
    "src",
    "tests",
    "benches",
    "examples",
    "cli/src",
    "fuzz/fuzz_targets",
    "scripts",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of the crate docs' section `title` (`# title` up to the next
/// heading), without the `//!` markers.
fn section(title: &str) -> Vec<&'static str> {
    let heading = format!("# {title}");
    let mut docs = LIB
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l));
    assert!(
        docs.any(|l| l == heading),
        "the crate docs have no `{heading}`"
    );
    docs.take_while(|l| !l.starts_with("# ")).collect()
}

/// Every `.rs` file (or, with `any`, every file) below the crate root's
/// `dir`, with its path from the crate root.
fn files(dir: &str, any: bool) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, any: bool, out: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let path = e.expect("a readable directory entry").path();
            if path.is_dir() {
                walk(&path, any, out);
            } else if any || path.extension().is_some_and(|x| x == "rs") {
                // Scripts and the like may not be UTF-8; they name nothing.
                if let Ok(text) = fs::read_to_string(&path) {
                    let rel = path.strip_prefix(root()).unwrap().to_path_buf();
                    out.push((rel, text));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), any, &mut out);
    out
}

/// Whether `text` has a test function `name`: `fn name(` whose attributes
/// (the lines above it, up to a blank line or the end of an item) hold
/// `#[test]`.
fn has_test(text: &str, name: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let sig = format!("fn {name}(");
    lines.iter().enumerate().any(|(i, l)| {
        l.contains(&sig)
            && lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| !l.is_empty() && !l.ends_with('}') && !l.ends_with(';'))
                .any(|l| l == "#[test]")
    })
}

/// The `Error` variants, from the enum's source.
fn error_variants() -> Vec<&'static str> {
    let body = ERROR
        .split_once("pub enum Error {")
        .expect("error.rs defines `pub enum Error`")
        .1;
    let body = &body[..body.find("\n}").expect("the enum ends")];
    body.lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|l| {
            let end = l
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(l.len());
            &l[..end]
        })
        .collect()
}

/// The error table as (variant, shown-by cell) rows.
fn error_rows() -> Vec<(&'static str, &'static str)> {
    section("Errors")
        .into_iter()
        .filter_map(|l| l.strip_prefix("| [`Error::"))
        .map(|l| {
            let (variant, rest) = l.split_once("`]").expect("a row starts with its variant");
            let shown_by = rest.rsplit('|').nth(1).expect("a row has a shown-by cell");
            (variant, shown_by.trim())
        })
        .collect()
}

/// A test the table names: its function, the file given for it, and
/// whether it is a unit test (in `src/`) rather than an integration test.
#[derive(Debug)]
struct Named {
    name: &'static str,
    file: Option<&'static str>,
    unit: bool,
}

/// The tests a shown-by cell names. Its groups are split by `;`; a group
/// may start with `unit` or name a file, which holds each name after it in
/// the group; a link (a doctest's item) is not a test name.
fn named_tests(cell: &'static str) -> Vec<Named> {
    let mut out = Vec::new();
    for group in cell.split(';') {
        let group = group.trim();
        if group.starts_with("doctest of") {
            continue;
        }
        let unit = group.starts_with("unit ");
        let mut file = None;
        let mut pieces = group.split('`');
        let mut before = pieces.next().unwrap_or("");
        while let (Some(quoted), Some(after)) = (pieces.next(), pieces.next()) {
            if before.ends_with('[') {
                // A link such as [`Command::validate`].
            } else if quoted.ends_with(".rs") {
                file = Some(quoted);
            } else {
                assert!(
                    quoted
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "`{quoted}` in the error table is neither a file nor a test name"
                );
                out.push(Named {
                    name: quoted,
                    file,
                    unit,
                });
            }
            before = after;
        }
    }
    out
}

/// Which tests named in `rows` are nowhere they are said to be, in
/// `sources` (path from the crate root, text).
fn missing_tests(
    rows: &[(&'static str, &'static str)],
    sources: &[(PathBuf, String)],
) -> Vec<String> {
    let mut missing = Vec::new();
    for (variant, cell) in rows {
        let named = named_tests(cell);
        if named.is_empty() {
            missing.push(format!("Error::{variant}: no test named"));
        }
        for n in named {
            let found = sources.iter().any(|(path, text)| {
                let place = match n.file {
                    Some(f) => path == Path::new(f),
                    None if n.unit => path.starts_with("src"),
                    None => path.starts_with("tests"),
                };
                place && has_test(text, n.name)
            });
            if !found {
                let place = n.file.unwrap_or(if n.unit { "src/" } else { "tests/" });
                missing.push(format!("Error::{variant}: no test `{}` in {place}", n.name));
            }
        }
    }
    missing
}

fn test_sources() -> Vec<(PathBuf, String)> {
    let mut sources = files("src", false);
    sources.extend(files("tests", false));
    sources
}

#[test]
fn every_error_variant_has_a_row_naming_tests_that_exist() {
    let rows = error_rows();
    let mut variants = error_variants();
    assert!(variants.len() > 20, "the enum was not read: {variants:?}");
    let mut in_table: Vec<&str> = rows.iter().map(|r| r.0).collect();
    in_table.sort_unstable();
    variants.sort_unstable();
    assert_eq!(
        in_table, variants,
        "the error table has one row per variant"
    );
    let missing = missing_tests(&rows, &test_sources());
    assert!(
        missing.is_empty(),
        "the error table names tests that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_misnamed_test_in_the_error_table_is_caught() {
    let sources = test_sources();
    let rows = [
        (
            "NotStarted",
            "`tests/suite/process.rs` `read_before_start_and_after_close_are_errors`",
        ),
        // The name exists, but in the integration tests, not in `src/`.
        ("Spawn", "unit `unexecutable_program_is_a_spawn_error`"),
        ("Io", "`tests/suite/process.rs` `no_such_test_anywhere`"),
        // A function that is not a test.
        ("Procfs", "`tests/suite/reactor.rs` `sh`"),
    ];
    assert_eq!(
        missing_tests(&rows, &sources),
        [
            "Error::Spawn: no test `unexecutable_program_is_a_spawn_error` in src/",
            "Error::Io: no test `no_such_test_anywhere` in tests/suite/process.rs",
            "Error::Procfs: no test `sh` in tests/suite/reactor.rs",
        ]
    );
}

/// How many guarantees the crate docs number, checking they run 1, 2, …
fn guarantee_count() -> usize {
    let numbers: Vec<usize> = section("What it guarantees")
        .into_iter()
        .filter_map(|l| l.split_once(". "))
        .filter_map(|(n, _)| n.parse().ok())
        .collect();
    let expected: Vec<usize> = (1..=numbers.len()).collect();
    assert_eq!(numbers, expected, "the guarantees are numbered 1, 2, …");
    numbers.len()
}

/// The guarantee numbers `text` cites ("guarantee N of the crate docs",
/// across comment line breaks).
fn cited_guarantees(text: &str) -> Vec<usize> {
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !matches!(*w, "//" | "///" | "//!"))
        .collect();
    words
        .windows(6)
        .filter(|w| {
            w[0].trim_start_matches(|c: char| !c.is_ascii_alphabetic())
                .eq_ignore_ascii_case("guarantee")
                && w[2..5] == ["of", "the", "crate"]
                && w[5].starts_with("docs")
        })
        .map(|w| {
            w[1].parse()
                .unwrap_or_else(|_| panic!("`guarantee {}` cites no number", w[1]))
        })
        .collect()
}

#[test]
fn every_cited_guarantee_is_one_the_crate_docs_number() {
    let count = guarantee_count();
    assert!(count >= 10, "the guarantees were not read: {count}");
    let mut cited = 0;
    for dir in SOURCES {
        for (path, text) in files(dir, false) {
            // This file's own examples cite numbers out of range on purpose.
            if path == Path::new("src/crate_docs.rs") {
                continue;
            }
            for n in cited_guarantees(&text) {
                cited += 1;
                assert!(
                    (1..=count).contains(&n),
                    "{} cites guarantee {n}; the crate docs number {count}",
                    path.display()
                );
            }
        }
    }
    assert!(cited > 0, "no citation was found: the scan reads nothing");
    assert_eq!(
        cited_guarantees(
            "//! (guarantee 3\n//! of the crate docs), and guarantee 12 of the crate docs."
        ),
        [3, 12]
    );
}

#[test]
fn every_document_a_source_names_is_in_the_repository() {
    let mut named = 0;
    for dir in SOURCES {
        for (path, text) in files(dir, true) {
            for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "._-/".contains(c))) {
                // A sentence's full stop is not part of the name.
                let word = word.trim_end_matches('.');
                let Some(stem) = word.strip_suffix(".md") else {
                    continue;
                };
                if stem.is_empty() {
                    continue;
                }
                named += 1;
                assert!(
                    !word.starts_with('/'),
                    "{} names {word}, outside the repository",
                    path.display()
                );
                // A name is relative to the crate root or to the file
                // naming it (`../README.md` from `src/lib.rs`).
                let beside = path.parent().unwrap().join(word);
                assert!(
                    root().join(word).is_file() || root().join(beside).is_file(),
                    "{} names {word}, which is not in the repository",
                    path.display()
                );
            }
        }
    }
    assert!(named > 0, "no document named: the scan reads nothing");
}
