//! Splitting a byte stream into lines, without copying where it can be
//! avoided.
//!
//! A [`LineReader`] is fed the chunks of a stream as they come off a pipe
//! ([`feed`](LineReader::feed)) and told when the stream ends
//! ([`finish`](LineReader::finish)); it hands every line to a callback as a
//! [`Line`]. It does no I/O and keeps no clock, so any byte source can drive
//! it.
//!
//! Not part of procrun's API: the module is public only with the
//! `internals` feature, for the benches and fuzz targets.
//!
//! # The contract
//!
//! - A line ends at `\n`, which is not part of it. Empty lines are lines.
//! - One `\r` right before the `\n` is dropped, as Go's `bufio.ScanLines`
//!   does, even when the `\r` and the `\n` arrive in different chunks. A `\r`
//!   not followed by `\n` is kept, and so is a `\r` that is the last byte of
//!   the stream: `ScanLines` drops that one at EOF, procrun keeps it because
//!   it ends no line.
//! - The bytes after the last `\n` come out of [`finish`](LineReader::finish)
//!   as a last line. A stream that is empty or ends in `\n` yields nothing
//!   there.
//! - Bytes need not be UTF-8; lines are `&[u8]`.
//! - Every byte reaches the callback once and in order (less the dropped
//!   `\n` and `\r`), whatever the chunking: feeding a stream in one chunk or
//!   byte by byte yields the same lines.
//!
//! # Long lines
//!
//! A maximum line length `M` ([`DEFAULT_MAX_LINE`] unless set with
//! [`LineReader::with_max_line`]) applies to a line's content, after the line
//! ending is dropped. A line of at most `M` bytes is one line. A longer line
//! is delivered as pieces of exactly `M` bytes flagged
//! [partial](Line::is_partial), then its rest (1 to `M` bytes) as a last piece
//! that is not flagged. A long line is never an error and never stops the
//! stream.
//!
//! A partial piece is handed out only once the reader is sure the line goes
//! on beyond it, so the pieces do not depend on the chunking either. The
//! reader therefore holds at most `M + 1` bytes: `M` bytes of a line and a
//! `\r` that may yet turn out to be a line ending. Its buffer is not sized
//! for `M` up front but grows with what it holds (doubling, capped at
//! `M + 1`), so any `M` from 1 to `usize::MAX` works, and a limit so large
//! it means "no limit" costs only what the longest line spanning chunks
//! needs.
//!
//! # Copying
//!
//! A line that lies wholly inside one chunk is handed out as a slice of that
//! chunk. Only a line that spans chunks is gathered in the reader's carry
//! buffer, which holds at most one incomplete line. Each chunk is searched
//! once for its newlines; the carry is never searched again.
//!
//! # Examples
//!
#![cfg_attr(feature = "internals", doc = "```")]
#![cfg_attr(not(feature = "internals"), doc = "```ignore")]
//! use procrun::lines::LineReader;
//!
//! let mut reader = LineReader::new();
//! let mut lines = Vec::new();
//! reader.feed(b"one\r\ntw", |line| lines.push(line.bytes().to_vec()));
//! reader.feed(b"o\n\nthr", |line| lines.push(line.bytes().to_vec()));
//! reader.finish(|line| lines.push(line.bytes().to_vec()));
//! assert_eq!(lines, [&b"one"[..], b"two", b"", b"thr"]);
//! ```

// Compiled for the tests, and with `internals` for the fuzz target, which
// checks the reader against the same model.
#[cfg(any(test, feature = "internals"))]
pub mod model;
mod scan;

use memchr::memchr;

use std::num::NonZeroUsize;

/// The maximum line length of [`LineReader::new`]: 64 KiB.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// A line, or a piece of a line longer than the reader's maximum.
///
/// The bytes exclude the line ending. They borrow either the chunk given to
/// [`LineReader::feed`] or the reader's carry buffer, so a `Line` lives only
/// as long as the callback it is handed to; copy the bytes to keep them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    bytes: &'a [u8],
    partial: bool,
}

impl<'a> Line<'a> {
    /// The bytes of the line (or piece), without `\n` or a dropped `\r`.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use procrun::lines::LineReader;
    ///
    /// let mut got = Vec::new();
    /// LineReader::new().feed(b"a\tb\r\n", |line| got.push(line.bytes().to_vec()));
    /// assert_eq!(got, [b"a\tb"]);
    /// ```
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether this is a piece of an over-long line that goes on in the next
    /// [`Line`]. The last piece of a line is not partial.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use std::num::NonZeroUsize;
    /// use procrun::lines::LineReader;
    ///
    /// let mut reader = LineReader::with_max_line(NonZeroUsize::new(4).unwrap());
    /// let mut got = Vec::new();
    /// reader.feed(b"abcdefghij\n", |line| {
    ///     got.push((line.bytes().to_vec(), line.is_partial()))
    /// });
    /// assert_eq!(
    ///     got,
    ///     [(b"abcd".to_vec(), true), (b"efgh".to_vec(), true), (b"ij".to_vec(), false)]
    /// );
    /// ```
    #[inline]
    pub fn is_partial(&self) -> bool {
        self.partial
    }
}

/// Splits a stream of byte chunks into [`Line`]s; see the
/// [module docs](self) for the contract.
///
/// A reader costs a few words until a line spans chunks: [`new`](Self::new)
/// allocates nothing, and the carry buffer grows only with the longest
/// incomplete line (at most twice its length), never past
/// `max_line() + 1` bytes.
///
/// # Examples
///
#[cfg_attr(feature = "internals", doc = "```")]
#[cfg_attr(not(feature = "internals"), doc = "```ignore")]
/// use procrun::lines::LineReader;
///
/// let mut reader = LineReader::new();
/// let mut count = 0;
/// for chunk in [&b"a\nb"[..], b"c\r", b"\nd"] {
///     reader.feed(chunk, |_| count += 1);
/// }
/// assert_eq!(count, 2);
/// assert_eq!(reader.pending(), 1);
/// reader.finish(|line| assert_eq!(line.bytes(), b"d"));
/// assert_eq!(reader.pending(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct LineReader {
    /// The bytes of the current line since its last emitted piece: at most
    /// `max` bytes, or `max + 1` when the last is a `\r` whose meaning the
    /// next byte decides. Empty exactly when no line is in progress.
    carry: Vec<u8>,
    max: usize,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    /// A reader with the maximum line length [`DEFAULT_MAX_LINE`].
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use procrun::lines::{LineReader, DEFAULT_MAX_LINE};
    ///
    /// assert_eq!(LineReader::new().max_line(), DEFAULT_MAX_LINE);
    /// ```
    pub fn new() -> LineReader {
        LineReader {
            carry: Vec::new(),
            max: DEFAULT_MAX_LINE,
        }
    }

    /// A reader that delivers lines longer than `max` bytes in pieces of
    /// `max` bytes. The limit cannot be 0 (a reader must hold at least one
    /// byte): the type says so, and the caller's check of its input is
    /// where a zero is reported.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use std::num::NonZeroUsize;
    /// use procrun::lines::LineReader;
    ///
    /// let max = NonZeroUsize::new(80).unwrap();
    /// assert_eq!(LineReader::with_max_line(max).max_line(), 80);
    /// ```
    pub fn with_max_line(max: NonZeroUsize) -> LineReader {
        LineReader {
            carry: Vec::new(),
            max: max.get(),
        }
    }

    /// The maximum line length: longer lines come in pieces of this size.
    pub fn max_line(&self) -> usize {
        self.max
    }

    /// How many bytes of an incomplete line the reader holds (at most
    /// `max_line() + 1`).
    pub fn pending(&self) -> usize {
        self.carry.len()
    }

    /// The bytes of the incomplete line the reader holds: the start of the
    /// next line it hands out, before the next chunk's bytes.
    #[cfg(feature = "tokio")]
    #[inline]
    pub(crate) fn pending_bytes(&self) -> &[u8] {
        &self.carry
    }

    /// Splits the next chunk of the stream, handing each complete line (or
    /// certain piece of a long line) to `on_line`, in order.
    ///
    /// Bytes after the chunk's last `\n` are kept for the next call, except
    /// that full pieces of an over-long line are handed out as soon as the
    /// line surely goes on. An empty chunk does nothing.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use procrun::lines::LineReader;
    ///
    /// let mut reader = LineReader::new();
    /// let chunk = b"one\ntwo\nthr";
    /// let mut got = Vec::new();
    /// reader.feed(chunk, |line| {
    ///     // A line inside the chunk is the chunk's own bytes, not a copy.
    ///     assert!(chunk.as_ptr_range().contains(&line.bytes().as_ptr()));
    ///     got.push(line.bytes().to_vec());
    /// });
    /// assert_eq!(got, [b"one", b"two"]);
    /// assert_eq!(reader.pending(), 3);
    /// ```
    #[inline]
    pub fn feed<F: FnMut(Line<'_>)>(&mut self, chunk: &[u8], mut on_line: F) {
        let rest = if self.carry.is_empty() {
            chunk
        } else {
            match self.continue_line(chunk, &mut on_line) {
                Some(rest) => rest,
                None => return,
            }
        };
        let max = self.max;
        let mut start = 0;
        scan::each_newline(rest, |end| {
            emit_line(&rest[start..end], max, &mut on_line);
            start = end + 1;
        });
        self.hold_tail(&rest[start..], &mut on_line);
    }

    /// Ends the stream: hands the bytes after the last `\n`, if any, to
    /// `on_line` as a last line (a trailing `\r` included), and leaves the
    /// reader empty, ready for a new stream.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use procrun::lines::LineReader;
    ///
    /// let mut reader = LineReader::new();
    /// reader.feed(b"done\nno newline\r", |_| {});
    /// let mut last = Vec::new();
    /// reader.finish(|line| last.push(line.bytes().to_vec()));
    /// assert_eq!(last, [b"no newline\r"]);
    /// reader.finish(|_| panic!("nothing is left"));
    /// ```
    pub fn finish<F: FnMut(Line<'_>)>(&mut self, mut on_line: F) {
        if self.carry.is_empty() {
            return;
        }
        // No `\n` can come now, so a trailing `\r` is content.
        emit_content(&self.carry, self.max, &mut on_line);
        // The stream is over: give the buffer back rather than keep up to
        // `max + 1` bytes for a reader that may never be fed again.
        self.carry = Vec::new();
    }

    /// Handles the start of `chunk` while a line is in progress in the
    /// carry. Returns the rest of the chunk, which begins at a line start,
    /// or `None` when the whole chunk went into the current line.
    fn continue_line<'c, F: FnMut(Line<'_>)>(
        &mut self,
        chunk: &'c [u8],
        on_line: &mut F,
    ) -> Option<&'c [u8]> {
        let max = self.max;
        let newline = memchr(b'\n', chunk);
        let mut head = &chunk[..newline.unwrap_or(chunk.len())];

        if self.carry.len() > max {
            // `max` bytes and a `\r`; the byte after the `\r` decides.
            match (head.is_empty(), newline) {
                (true, Some(at)) => {
                    emit(&self.carry[..max], false, on_line);
                    self.carry.clear();
                    return Some(&chunk[at + 1..]);
                }
                (true, None) => return None,
                (false, _) => {
                    emit(&self.carry[..max], true, on_line);
                    self.carry.clear();
                    self.carry_extend(b"\r");
                }
            }
        }

        let take = (max - self.carry.len()).min(head.len());
        self.carry_extend(&head[..take]);
        head = &head[take..];

        match newline {
            Some(at) => {
                match head {
                    [] => emit_line(&self.carry, max, on_line),
                    // Exactly `max` bytes in the carry, then `\r\n`.
                    [b'\r'] => emit(&self.carry, false, on_line),
                    _ => {
                        emit(&self.carry, true, on_line);
                        emit_line(head, max, on_line);
                    }
                }
                self.carry.clear();
                Some(&chunk[at + 1..])
            }
            None => {
                match head {
                    [] => {}
                    // Not `push`: it would double a carry already at
                    // `max`, past the `max + 1` bound.
                    [b'\r'] => self.carry_extend(b"\r"),
                    _ => {
                        emit(&self.carry, true, on_line);
                        self.carry.clear();
                        self.hold_tail(head, on_line);
                    }
                }
                None
            }
        }
    }

    /// Keeps `tail`, the start of a line that has no `\n` yet, with the
    /// carry empty; hands out the pieces of it that are surely partial.
    #[inline]
    fn hold_tail<F: FnMut(Line<'_>)>(&mut self, mut tail: &[u8], on_line: &mut F) {
        let max = self.max;
        while tail.len() > max {
            // `max + 1` would overflow for `usize::MAX`; the difference
            // cannot, as `tail` is longer than `max` here.
            if tail.len() - max == 1 && tail[max] == b'\r' {
                break;
            }
            emit(&tail[..max], true, on_line);
            tail = &tail[max..];
        }
        if !tail.is_empty() {
            self.carry_extend(tail);
        }
    }

    /// Appends to the carry, doubling its capacity as it fills but never
    /// past `max + 1`, which plain amortized growth would overshoot by up to
    /// twice. The bound saturates: a `max` of `usize::MAX` means "no limit",
    /// and the carry then grows only with the line it actually holds.
    fn carry_extend(&mut self, bytes: &[u8]) {
        // Both lengths are of allocations, so the sum fits; callers keep it
        // within `max + 1`.
        let need = self.carry.len() + bytes.len();
        if need > self.carry.capacity() {
            let target = need
                .max(self.carry.capacity().saturating_mul(2))
                .max(64)
                .min(self.max.saturating_add(1));
            self.carry.reserve_exact(target - self.carry.len());
        }
        self.carry.extend_from_slice(bytes);
    }
}

#[inline(always)]
fn emit<F: FnMut(Line<'_>)>(bytes: &[u8], partial: bool, on_line: &mut F) {
    on_line(Line { bytes, partial });
}

/// Hands out one whole line (everything before its `\n`, or a stream's last
/// bytes), dropping one trailing `\r` when `\n` followed it.
#[inline(always)]
fn emit_line<F: FnMut(Line<'_>)>(mut line: &[u8], max: usize, on_line: &mut F) {
    if let [content @ .., b'\r'] = line {
        line = content;
    }
    emit_content(line, max, on_line);
}

/// Hands out a line's content: in one piece, or in pieces when too long.
#[inline(always)]
fn emit_content<F: FnMut(Line<'_>)>(line: &[u8], max: usize, on_line: &mut F) {
    if line.len() <= max {
        emit(line, false, on_line);
    } else {
        emit_long(line, max, on_line);
    }
}

#[cold]
fn emit_long<F: FnMut(Line<'_>)>(mut line: &[u8], max: usize, on_line: &mut F) {
    while line.len() > max {
        emit(&line[..max], true, on_line);
        line = &line[max..];
    }
    emit(line, false, on_line);
}

#[cfg(test)]
mod tests {
    use super::model::{self, Lines};
    use super::*;
    use crate::testutil::{scale, Rng};

    fn nz(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).expect("a test limit is not 0")
    }

    /// Checks the model against `expected`, then the reader against the
    /// model with every uniform chunk size from 1 byte to the whole stream.
    fn check(stream: &[u8], max: usize, expected: &[(&[u8], bool)]) {
        let want = model::split(stream, max);
        let expected: Lines = expected.iter().map(|&(b, p)| (b.to_vec(), p)).collect();
        assert_eq!(want, expected, "model disagrees with the expectation");
        check_every_chunking(stream, max, &want);
    }

    fn check_every_chunking(stream: &[u8], max: usize, want: &Lines) {
        assert_eq!(
            &model::feed(stream, max, []),
            want,
            "whole stream, max {max}"
        );
        for size in 1..=stream.len() {
            let got = model::feed(stream, max, std::iter::repeat(size));
            assert_eq!(&got, want, "stream {stream:?}, max {max}, chunks of {size}");
        }
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        check(b"ab\r\ncd\r\n", 4, &[(b"ab", false), (b"cd", false)]);
        check(b"\r\n\r\n", 4, &[(b"", false), (b"", false)]);
        // Chunks of 3 split both `\r\n`s of this stream.
        assert_eq!(
            model::feed(b"ab\r\ncd\r\n", 4, [3]),
            model::split(b"ab\r\ncd\r\n", 4)
        );
    }

    #[test]
    fn only_one_cr_before_newline_is_dropped() {
        check(b"a\r\r\n", 4, &[(b"a\r", false)]);
    }

    #[test]
    fn line_of_exactly_max_is_one_line() {
        check(b"abcd\n", 4, &[(b"abcd", false)]);
        check(b"abcd\r\n", 4, &[(b"abcd", false)]);
        check(b"abcd", 4, &[(b"abcd", false)]);
    }

    #[test]
    fn line_one_over_max_is_a_partial_piece_and_a_last_byte() {
        check(
            b"abcde\nf\n",
            4,
            &[(b"abcd", true), (b"e", false), (b"f", false)],
        );
        check(b"abcde\r\n", 4, &[(b"abcd", true), (b"e", false)]);
        check(b"abcde", 4, &[(b"abcd", true), (b"e", false)]);
    }

    #[test]
    fn line_ten_times_max_is_nine_partial_pieces_and_a_last() {
        let max = 4;
        let line: Vec<u8> = (0..10 * max).map(|i| b'a' + (i % 26) as u8).collect();
        let mut stream = line.clone();
        stream.extend_from_slice(b"\r\nz\n");
        let mut expected: Vec<(&[u8], bool)> =
            line.chunks(max).map(|piece| (piece, true)).collect();
        expected.last_mut().unwrap().1 = false;
        expected.push((b"z", false));
        check(&stream, max, &expected);
    }

    #[test]
    fn empty_input_yields_nothing() {
        check(b"", 4, &[]);
        let mut reader = LineReader::new();
        reader.feed(b"", |_| panic!("no line in an empty chunk"));
        reader.finish(|_| panic!("no line in an empty stream"));
    }

    #[test]
    fn only_newline_is_one_empty_line() {
        check(b"\n", 4, &[(b"", false)]);
        check(b"\n\n\n", 1, &[(b"", false), (b"", false), (b"", false)]);
    }

    #[test]
    fn last_line_without_newline_comes_from_finish() {
        check(b"a\nbc", 4, &[(b"a", false), (b"bc", false)]);
        let mut reader = LineReader::new();
        reader.feed(b"a\nbc", |line| assert_eq!(line.bytes(), b"a"));
        assert_eq!(reader.pending(), 2);
        let mut last = Vec::new();
        reader.finish(|line| last.push((line.bytes().to_vec(), line.is_partial())));
        assert_eq!(last, [(b"bc".to_vec(), false)]);
    }

    #[test]
    fn cr_not_followed_by_newline_is_kept() {
        check(b"a\rb\n", 4, &[(b"a\rb", false)]);
        check(b"\r", 4, &[(b"\r", false)]);
        check(b"a\n\r", 4, &[(b"a", false), (b"\r", false)]);
        check(b"ab\r", 4, &[(b"ab\r", false)]);
        check(b"\r\r", 1, &[(b"\r", true), (b"\r", false)]);
    }

    #[test]
    fn cr_at_piece_boundary_is_decided_by_the_next_byte() {
        check(b"abcd\r\n", 4, &[(b"abcd", false)]);
        check(b"abcd\rx\n", 4, &[(b"abcd", true), (b"\rx", false)]);
        check(b"abcd\r\r\n", 4, &[(b"abcd", true), (b"\r", false)]);
        check(b"abcd\r", 4, &[(b"abcd", true), (b"\r", false)]);
        check(b"abc\r\r\n", 4, &[(b"abc\r", false)]);
        check(b"abcdefgh\r\n", 4, &[(b"abcd", true), (b"efgh", false)]);
        check(b"a\r\n", 1, &[(b"a", false)]);
        check(b"a\r\r\n", 1, &[(b"a", true), (b"\r", false)]);
    }

    #[test]
    fn a_held_cr_is_released_by_the_next_chunk() {
        let mut reader = LineReader::with_max_line(nz(4));
        reader.feed(b"abcd\r", |_| panic!("the \\r may still end the line"));
        assert_eq!(reader.pending(), 5);
        let mut got = Vec::new();
        reader.feed(b"x", |line| {
            got.push((line.bytes().to_vec(), line.is_partial()))
        });
        assert_eq!(got, [(b"abcd".to_vec(), true)]);
        assert_eq!(reader.pending(), 2);
    }

    #[test]
    fn random_streams_match_model_in_every_chunking() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let alphabet = b"ab\r\r\n\n";
        for _ in 0..scale(3_000, 12) {
            let len = rng.below(40);
            let stream: Vec<u8> = (0..len).map(|_| alphabet[rng.below(6)]).collect();
            let max = 1 + rng.below(8);
            let want = model::split(&stream, max);
            check_every_chunking(&stream, max, &want);
            for _ in 0..8 {
                // Sizes of 0 feed empty chunks in between.
                let sizes: Vec<usize> = (0..len + 1).map(|_| rng.below(2 * max + 3)).collect();
                let got = model::feed(&stream, max, sizes.iter().copied());
                assert_eq!(got, want, "stream {stream:?}, max {max}, chunks {sizes:?}");
            }
        }
    }

    #[test]
    fn line_inside_a_chunk_is_borrowed_from_the_chunk() {
        let mut reader = LineReader::with_max_line(nz(4));
        reader.feed(b"xy", |_| {});
        let chunk = b"z\none\r\n\nabcdefg\nrest";
        let range = chunk.as_ptr_range();
        let mut seen = Vec::new();
        reader.feed(chunk, |line| {
            let bytes = line.bytes();
            let inside = range.contains(&bytes.as_ptr()) && bytes.as_ptr_range().end <= range.end;
            seen.push((bytes.to_vec(), inside));
        });
        let want: Vec<(Vec<u8>, bool)> = [
            (&b"xyz"[..], false), // began in the previous chunk: from the carry
            (b"one", true),
            (b"", true),
            (b"abcd", true),
            (b"efg", true),
        ]
        .iter()
        .map(|&(b, inside)| (b.to_vec(), inside))
        .collect();
        assert_eq!(seen, want);
        assert_eq!(reader.pending(), 4);
    }

    #[test]
    fn rest_of_a_long_spanning_line_is_borrowed_from_the_chunk() {
        let mut reader = LineReader::with_max_line(nz(2));
        reader.feed(b"a", |_| {});
        let chunk = b"bcdef\n";
        let range = chunk.as_ptr_range();
        let mut seen = Vec::new();
        reader.feed(chunk, |line| {
            seen.push((
                line.bytes().to_vec(),
                range.contains(&line.bytes().as_ptr()),
            ))
        });
        assert_eq!(
            seen,
            [
                (b"ab".to_vec(), false),
                (b"cd".to_vec(), true),
                (b"ef".to_vec(), true)
            ]
        );
    }

    #[test]
    fn carry_stays_within_max_plus_one_byte_at_a_time() {
        let max = 16;
        let mut stream = vec![b'a'; 10 * max];
        stream.extend_from_slice(b"\r\r\r\n");
        let mut reader = LineReader::with_max_line(nz(max));
        let mut bytes = 0;
        for b in stream.chunks(1) {
            reader.feed(b, |line| bytes += line.bytes().len());
            assert!(reader.pending() <= max + 1);
            assert!(reader.carry.capacity() <= max + 1);
        }
        assert_eq!(bytes, 10 * max + 2);
    }

    #[test]
    fn a_carry_full_to_max_takes_its_r_without_doubling() {
        // `max` bytes in a chunk of their own, then `\r` and `\n` one by
        // one: the `\r` joins a carry whose capacity is exactly `max`.
        for max in [64, 100] {
            let mut reader = LineReader::with_max_line(nz(max));
            let mut lines = Vec::new();
            let line = vec![b'x'; max];
            for chunk in [&line[..], b"\r", b"\n"] {
                reader.feed(chunk, |l| lines.push(l.bytes().len()));
                assert!(reader.carry.capacity() <= max + 1, "max {max}");
            }
            assert_eq!(lines, [max]);
        }
    }

    #[test]
    fn new_reader_allocates_nothing_and_finish_frees_the_carry() {
        let mut reader = LineReader::default();
        assert_eq!(reader.max_line(), DEFAULT_MAX_LINE);
        assert_eq!(reader.carry.capacity(), 0);
        reader.feed(b"no newline yet", |_| {});
        assert!(reader.carry.capacity() > 0);
        reader.finish(|_| {});
        assert_eq!(reader.carry.capacity(), 0);
    }

    #[test]
    fn finish_leaves_the_reader_ready_for_a_new_stream() {
        let mut reader = LineReader::with_max_line(nz(3));
        reader.feed(b"abcd\r", |_| {});
        reader.finish(|_| {});
        let mut got = Vec::new();
        reader.feed(b"x\n", |line| got.push(line.bytes().to_vec()));
        assert_eq!(got, [b"x"]);
    }

    #[test]
    fn max_line_of_usize_max_splits_lines_in_every_chunking() {
        let stream = b"one\r\ntwo\n\nthree\r\rfour\nlast\r";
        let want = model::split(stream, usize::MAX);
        assert_eq!(want.len(), 5);
        assert!(want.iter().all(|(_, partial)| !partial));
        check_every_chunking(stream, usize::MAX, &want);
    }

    #[test]
    fn max_line_of_usize_max_delivers_a_long_line_whole() {
        let len = scale(1 << 20, 1 << 12);
        let mut stream: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        stream.extend_from_slice(b"\r\nz\n");
        let want = model::split(&stream, usize::MAX);
        assert_eq!(
            want,
            [(stream[..len].to_vec(), false), (b"z".to_vec(), false)]
        );
        for size in [1000, 4096, 65536, 300_001] {
            let mut reader = LineReader::with_max_line(nz(usize::MAX));
            let mut got = Vec::new();
            let mut push = |line: Line<'_>| got.push((line.bytes().to_vec(), line.is_partial()));
            for chunk in stream.chunks(size) {
                reader.feed(chunk, &mut push);
                // The carry grows with what it holds, not with the limit.
                assert!(reader.carry.capacity() <= 2 * len, "chunks of {size}");
            }
            reader.finish(&mut push);
            assert_eq!(got, want, "chunks of {size}");
        }
    }

    #[test]
    fn max_line_near_usize_max_does_not_overflow() {
        for max in [usize::MAX - 1, usize::MAX / 2 + 1, isize::MAX as usize] {
            let want = model::split(b"ab\r", max);
            assert_eq!(model::feed(b"ab\r", max, [1]), want, "max {max}");
            assert_eq!(
                model::feed(b"ab\r\ncd", max, [2]),
                model::split(b"ab\r\ncd", max)
            );
        }
    }

    #[test]
    fn smallest_max_line_is_one() {
        assert_eq!(LineReader::with_max_line(NonZeroUsize::MIN).max_line(), 1);
    }
}
