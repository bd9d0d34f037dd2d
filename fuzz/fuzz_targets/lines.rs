//! The line reader against the naive model under arbitrary chunking.
//!
//! Input: byte 0 picks the maximum line length (1 to 32, or from
//! `usize::MAX - 31` to `usize::MAX`, where `max + 1` would overflow), bytes
//! 1 to 4 a cycle of chunk sizes (0 to 63; 0 feeds an empty chunk), the rest
//! is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use procrun::lines::model;

fuzz_target!(|data: &[u8]| {
    let Some((head, stream)) = data.split_first_chunk::<5>() else {
        return;
    };
    let max = match head[0] {
        0..=223 => 1 + usize::from(head[0] % 32),
        b => usize::MAX - usize::from(b % 32),
    };
    let sizes: Vec<usize> = head[1..].iter().map(|&b| usize::from(b % 64)).collect();
    // All sizes 0 would feed empty chunks forever: then the stream goes in
    // whole.
    let endless = sizes.iter().any(|&s| s > 0);
    let chunks = sizes
        .iter()
        .copied()
        .cycle()
        .take(if endless { usize::MAX } else { 0 });

    assert_eq!(model::feed(stream, max, chunks), model::split(stream, max));
});
