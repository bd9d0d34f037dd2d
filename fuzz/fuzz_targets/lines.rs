//! The line reader against the naive model under arbitrary chunking.
//!
//! Input: byte 0 picks the maximum line length (1 to 32, or from
//! `usize::MAX - 31` to `usize::MAX`, where `max + 1` would overflow), bytes
//! 1 to 4 a cycle of chunk sizes (0 to 63; 0 feeds an empty chunk), the rest
//! is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use procrun::lines::{Line, LineReader};

type Out = Vec<(Vec<u8>, bool)>;

/// The contract, written as plainly as possible: the whole stream at once,
/// cut at `\n`, one `\r` dropped before each `\n`, then each line cut into
/// pieces of `max`.
fn model(stream: &[u8], max: usize) -> Out {
    fn pieces(mut content: &[u8], max: usize, out: &mut Out) {
        while content.len() > max {
            out.push((content[..max].to_vec(), true));
            content = &content[max..];
        }
        out.push((content.to_vec(), false));
    }
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    // What follows the last `\n` (or the whole stream if there is none).
    let tail = lines.pop().unwrap();
    for line in lines {
        pieces(line.strip_suffix(b"\r").unwrap_or(line), max, &mut out);
    }
    if !tail.is_empty() {
        pieces(tail, max, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((head, stream)) = data.split_first_chunk::<5>() else {
        return;
    };
    let max = match head[0] {
        0..=223 => 1 + usize::from(head[0] % 32),
        b => usize::MAX - usize::from(b % 32),
    };
    let sizes: Vec<usize> = head[1..].iter().map(|&b| usize::from(b % 64)).collect();
    // All sizes 0 would feed empty chunks forever.
    let whole = sizes.iter().all(|&s| s == 0);

    let mut reader = LineReader::with_max_line(max).unwrap();
    let mut got = Vec::new();
    let mut push = |line: Line<'_>| got.push((line.bytes().to_vec(), line.is_partial()));
    let mut rest = stream;
    let mut cycle = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = if whole {
            rest.len()
        } else {
            *cycle.next().unwrap()
        };
        let n = n.min(rest.len());
        reader.feed(&rest[..n], &mut push);
        rest = &rest[n..];
        assert!(
            reader.pending() <= max.saturating_add(1),
            "pending {} > max + 1",
            reader.pending()
        );
    }
    reader.finish(&mut push);
    assert_eq!(reader.pending(), 0);

    assert_eq!(got, model(stream, max));
});
