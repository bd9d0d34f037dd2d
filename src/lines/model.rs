//! The line contract written the obvious way, and a driver that feeds a
//! real [`LineReader`] in given chunks: the unit tests and the fuzz target
//! both check the reader against this one model, so a change to the
//! contract is made once.

use super::{Line, LineReader};

/// Lines or pieces as a reader hands them out: the bytes and whether the
/// piece is [partial](Line::is_partial).
pub type Lines = Vec<(Vec<u8>, bool)>;

/// The contract, written as plainly as possible: the whole stream at once,
/// cut at `\n`, one `\r` dropped before each `\n`, then each line cut into
/// pieces of `max`.
pub fn split(stream: &[u8], max: usize) -> Lines {
    fn pieces(mut content: &[u8], max: usize, out: &mut Lines) {
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

/// Feeds `stream` to a new reader with the limit `max`, in chunks of the
/// given sizes (0 feeds an empty chunk; once the sizes run out, the rest
/// goes in one chunk), and returns what it handed out.
///
/// # Panics
///
/// When `max` is 0, or when after some chunk the reader holds, or has
/// room for, more than `max + 1` bytes: the memory bound of the contract.
pub fn feed(stream: &[u8], max: usize, sizes: impl IntoIterator<Item = usize>) -> Lines {
    let max_nz = std::num::NonZeroUsize::new(max).expect("a limit of at least 1");
    let mut reader = LineReader::with_max_line(max_nz);
    let mut out = Vec::new();
    let mut push = |line: Line<'_>| out.push((line.bytes().to_vec(), line.is_partial()));
    let mut rest = stream;
    let mut sizes = sizes.into_iter();
    let bound = max.saturating_add(1);
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        reader.feed(&rest[..n], &mut push);
        rest = &rest[n..];
        assert!(reader.pending() <= bound, "pending {}", reader.pending());
        assert!(
            reader.carry.capacity() <= bound,
            "capacity {}",
            reader.carry.capacity()
        );
    }
    reader.finish(&mut push);
    assert_eq!(reader.pending(), 0);
    out
}
