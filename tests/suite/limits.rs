//! Limits so large they mean "no limit" work through the public API instead
//! of overflowing.

use crate::common;

use common::*;
use procrun::{Command, Reactor, Stream};

#[test]
fn max_line_of_usize_max_delivers_a_short_line() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("echo");
    c.arg("hello").max_line(usize::MAX);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["hello"]);
    assert!(exits_of(&recs, id)[0].success());
}

#[test]
fn max_line_of_usize_max_delivers_a_line_spanning_many_reads_whole() {
    let len = 1 << 20;
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("sh");
    c.args([
        "-c",
        &format!("head -c {len} /dev/zero | tr '\\0' y; echo; echo end"),
    ])
    .max_line(usize::MAX);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let lines: Vec<(usize, bool)> = recs
        .iter()
        .filter_map(|e| match e {
            Rec::Line { line, partial, .. } => Some((line.len(), *partial)),
            _ => None,
        })
        .collect();
    assert_eq!(lines, [(len, false), (3, false)]);
    assert!(exits_of(&recs, id)[0].success());
}
