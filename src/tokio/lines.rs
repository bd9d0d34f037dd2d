//! A child's lines as they wait in its driver and in its handle: stored
//! together in segments a driver recycles, taken in one swap, handed out
//! owned or lent.

use crate::child::{OutputLine, Stream};

/// Whole lines and raw bytes buffered beyond this (per child, both
/// streams) pause the child until its handles take them; taking them below
/// half resumes it.
pub(super) const LINE_BUFFER: usize = 1 << 20;

/// What a line waiting for its handle counts toward [`LINE_BUFFER`]: its
/// bytes and its place in the queue, so that empty lines, which have no
/// bytes, are bounded too.
pub(super) fn held(line: &[u8]) -> usize {
    line.len() + std::mem::size_of::<OutputLine>()
}

/// A child's lines stored together, in segments of [`SEGMENT`] bytes that
/// a driver recycles ([`Spare`]): the lines' bytes one after the other,
/// and their headers (length and flags) apart.
///
/// The pump appends each line the reactor lends to the child's slot; the
/// handle swaps them out in one take (`Slot::take_lines`), hands them
/// out one by one without the lock, and gives the segments back once it
/// has handed them all out. A line so costs a copy into memory that is
/// reused, where a `Vec` of its own cost an allocation in the pump and a
/// free in the task (thousands made, then thousands freed: a pattern that
/// overflows the allocator's per-thread caches), and one growing buffer
/// per child cost its growth (copies, and fresh pages the allocator had
/// given back). The headers sit apart from the bytes so that finding the
/// next line needs no load of the line before: handing lines out is not
/// one cache access after another.
///
/// Boxed, and made by the first line: a thousand idle children hold a
/// thousand of these in their slots and as many in their handles.
#[derive(Debug, Default)]
pub(super) struct Lines(Option<Box<Batch>>);

#[derive(Debug, Default)]
struct Batch {
    segments: Vec<Segment>,
    /// The next line to hand out (those before it are handed out, and
    /// wait for a take to give their segments back).
    next: Cursor,
    /// What its lines count toward [`LINE_BUFFER`].
    held: usize,
}

/// Where the next line to hand out is: its segment, its place among the
/// segment's lines, and where its bytes start.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    seg: usize,
    line: usize,
    at: usize,
}

/// Lines' bytes, one after the other, and their headers apart, in the
/// same order: finding line `k` needs header `k` only. Both keep their
/// memory when the segment is recycled.
#[derive(Debug)]
struct Segment {
    bytes: Vec<u8>,
    heads: Vec<u64>,
}

/// Headers a segment takes at most: empty lines, which have no bytes,
/// fill it too.
const HEADS: usize = SEGMENT / HEADER;

impl Segment {
    fn new(size: usize) -> Segment {
        Segment {
            bytes: Vec::with_capacity(size),
            // Room for the lines of a full segment of 64-byte lines; more
            // grows once, and stays with the segment.
            heads: Vec::with_capacity(size.min(SEGMENT) / 64),
        }
    }

    /// Whether a line of `len` bytes fits.
    #[inline]
    fn fits(&self, len: usize) -> bool {
        self.bytes.capacity() - self.bytes.len() >= len && self.heads.len() < HEADS
    }

    #[inline]
    fn push(&mut self, head: u64, line: &[u8]) {
        self.bytes.extend_from_slice(line);
        self.heads.push(head);
    }

    /// Line `k`, whose bytes start at `at`.
    #[inline]
    fn line(&self, k: usize, at: usize) -> LineRef<'_> {
        let head = self.heads[k];
        let len = (head & !(STDERR_BIT | PARTIAL_BIT)) as usize;
        LineRef {
            stream: if head & STDERR_BIT != 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
            bytes: &self.bytes[at..at + len],
            partial: head & PARTIAL_BIT != 0,
        }
    }

    fn lines(&self) -> usize {
        self.heads.len()
    }
}

impl Cursor {
    /// Hands out the next line of `segments`.
    #[inline]
    fn next<'a>(&mut self, segments: &'a [Segment]) -> Option<LineRef<'a>> {
        loop {
            let s = segments.get(self.seg)?;
            if self.line < s.lines() {
                let line = s.line(self.line, self.at);
                self.line += 1;
                self.at += line.bytes.len();
                return Some(line);
            }
            *self = Cursor {
                seg: self.seg + 1,
                ..Cursor::default()
            };
        }
    }
}

/// Bytes of a segment: below the size for which glibc's allocator makes a
/// mapping of its own (128 KiB at first), so a segment freed goes back to
/// its heap, not unmapped and faulted in again when the next is made. A
/// line longer than this gets a segment of its own size.
const SEGMENT: usize = 64 * 1024;
/// A line's header: its length, with its stream and partial flag in the
/// two top bits.
const HEADER: usize = std::mem::size_of::<u64>();
const STDERR_BIT: u64 = 1 << 63;
const PARTIAL_BIT: u64 = 1 << 62;

/// Emptied segments a driver keeps for the next lines of any child: a
/// handle gives its segments back here, and the next lines filed take
/// them, so memory in use follows what waits (and 1 MiB at most stays
/// spare once the lines stop).
#[derive(Debug, Default)]
pub(super) struct Spare(Vec<Segment>);

const SPARE_SEGMENTS: usize = LINE_BUFFER / SEGMENT;

impl Spare {
    fn take(&mut self, need: usize) -> Segment {
        if need <= SEGMENT {
            if let Some(seg) = self.0.pop() {
                return seg;
            }
        }
        Segment::new(need.max(SEGMENT))
    }

    fn give(&mut self, mut seg: Segment) {
        if seg.bytes.capacity() == SEGMENT && self.0.len() < SPARE_SEGMENTS {
            seg.bytes.clear();
            seg.heads.clear();
            self.0.push(seg);
        }
    }
}

impl Lines {
    #[inline]
    pub(super) fn push(&mut self, spare: &mut Spare, stream: Stream, line: &[u8], partial: bool) {
        let b = self.0.get_or_insert_with(Box::default);
        if !matches!(b.segments.last(), Some(seg) if seg.fits(line.len())) {
            b.segments.push(spare.take(line.len()));
        }
        let seg = b.segments.last_mut().expect("a segment with room");
        let mut head = line.len() as u64;
        if stream == Stream::Stderr {
            head |= STDERR_BIT;
        }
        if partial {
            head |= PARTIAL_BIT;
        }
        seg.push(head, line);
        b.held += held(line);
    }

    /// Whether every line was handed out.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        // Every segment holds a line, so only the last can be the end.
        self.0.as_ref().map_or(true, |b| {
            b.next.seg >= b.segments.len()
                || (b.next.seg + 1 == b.segments.len()
                    && b.next.line == b.segments[b.next.seg].lines())
        })
    }

    /// Hands out the next line, with the one copy it takes to own it.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<OutputLine> {
        self.pop_ref().map(|line| line.to_output_line())
    }

    /// Lends the next line.
    #[inline]
    pub(super) fn pop_ref(&mut self) -> Option<LineRef<'_>> {
        let b = self.0.as_deref_mut()?;
        b.next.next(&b.segments)
    }

    /// Lends the lines not handed out yet, each handed out as the batch
    /// gives it.
    pub(super) fn lend(&mut self) -> LineBatch<'_> {
        match self.0.as_deref_mut() {
            Some(Batch { segments, next, .. }) => LineBatch {
                segments,
                next: Some(next),
            },
            None => LineBatch {
                segments: &[],
                next: None,
            },
        }
    }

    /// The lines not handed out yet, without handing them out.
    pub(super) fn rest(&self) -> impl Iterator<Item = (Stream, &[u8], bool)> + '_ {
        let (segments, mut next) = self
            .0
            .as_deref()
            .map_or((&[][..], Cursor::default()), |b| (&b.segments[..], b.next));
        std::iter::from_fn(move || {
            next.next(segments)
                .map(|line| (line.stream, line.bytes, line.partial))
        })
    }

    /// What its lines count toward [`LINE_BUFFER`], handed out or not.
    pub(super) fn held(&self) -> usize {
        self.0.as_ref().map_or(0, |b| b.held)
    }

    /// Drops every line, giving the segments to `spare`.
    pub(super) fn clear(&mut self, spare: &mut Spare) {
        if let Some(b) = &mut self.0 {
            b.segments.drain(..).for_each(|seg| spare.give(seg));
            b.next = Cursor::default();
            b.held = 0;
        }
    }

    /// Drops every line and what holds them.
    pub(super) fn free(&mut self, spare: &mut Spare) {
        self.clear(spare);
        self.0 = None;
    }
}

/// A line a child wrote, lent by
/// [`Child::next_line_ref`](super::Child::next_line_ref) until the handle
/// is used again: no copy is made for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRef<'a> {
    stream: Stream,
    bytes: &'a [u8],
    partial: bool,
}

impl<'a> LineRef<'a> {
    /// The stream it came from.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The line without its line ending.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether this is a piece of a longer line that goes on.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// The line as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.bytes)
    }

    /// The line, owned: one copy.
    pub fn to_output_line(&self) -> OutputLine {
        OutputLine {
            stream: self.stream,
            bytes: self.bytes.to_vec(),
            partial: self.partial,
        }
    }
}

/// The lines a [`Child`](super::Child) holds, lent together by
/// [`Child::next_lines`](super::Child::next_lines): an iterator of
/// [`LineRef`]s, no copy made for any. Each line is handed out as the
/// batch gives it; those it did not give stay in the handle.
#[derive(Debug)]
pub struct LineBatch<'a> {
    segments: &'a [Segment],
    /// The handle's cursor.
    next: Option<&'a mut Cursor>,
}

impl<'a> Iterator for LineBatch<'a> {
    type Item = LineRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<LineRef<'a>> {
        self.next.as_mut()?.next(self.segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of every kind (empty, stderr, partial, longer than a
    /// segment), enough to fill several segments.
    fn model() -> Vec<(Stream, Vec<u8>, bool)> {
        let mut lines = Vec::new();
        for i in 0..5000usize {
            let stream = if i % 3 == 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let bytes = match i % 7 {
                0 => Vec::new(),
                1 => vec![b'x'; SEGMENT + i],
                _ => i.to_string().repeat(i % 13 + 1).into_bytes(),
            };
            lines.push((stream, bytes, i % 5 == 0));
        }
        lines
    }

    fn filled(spare: &mut Spare, lines: &[(Stream, Vec<u8>, bool)]) -> Lines {
        let mut l = Lines::default();
        for (s, b, p) in lines {
            l.push(spare, *s, b, *p);
        }
        l
    }

    /// Every line back once, in order, with its stream and flag, whether
    /// owned or lent, and `rest` sees what is left at any point.
    #[test]
    fn lines_come_back_as_pushed_across_segments() {
        let lines = model();
        let mut spare = Spare::default();
        for round in 0..2 {
            let mut l = filled(&mut spare, &lines);
            let held: usize = lines.iter().map(|(_, b, _)| held(b)).sum();
            assert_eq!(l.held(), held, "round {round}");
            for (i, want) in lines.iter().enumerate() {
                assert!(!l.is_empty());
                if i % 1000 == 0 {
                    let rest: Vec<_> = l.rest().map(|(s, b, p)| (s, b.to_vec(), p)).collect();
                    assert_eq!(rest, lines[i..]);
                }
                let got = if i % 2 == 0 {
                    l.pop().map(|o| (o.stream, o.bytes, o.partial))
                } else {
                    l.pop_ref()
                        .map(|r| (r.stream(), r.bytes().to_vec(), r.is_partial()))
                };
                assert_eq!(got.as_ref(), Some(want), "line {i}, round {round}");
            }
            assert!(l.is_empty());
            assert!(l.pop_ref().is_none());
            assert_eq!(l.rest().count(), 0);
            l.clear(&mut spare);
            assert!(l.is_empty());
            assert_eq!(l.held(), 0);
        }
    }

    /// Empty lines, which have no bytes, fill a segment by their headers:
    /// a segment's headers are bounded as its bytes are.
    #[test]
    fn empty_lines_fill_segments_too() {
        let mut spare = Spare::default();
        let mut l = Lines::default();
        for _ in 0..3 * HEADS {
            l.push(&mut spare, Stream::Stdout, b"", false);
        }
        let b = l.0.as_deref().unwrap();
        assert_eq!(b.segments.len(), 3);
        assert!(b.segments.iter().all(|s| s.heads.len() == HEADS));
        assert_eq!(l.rest().count(), 3 * HEADS);
        assert!(
            std::iter::from_fn(|| l.pop_ref().map(|r| r.bytes().is_empty()))
                .take(3 * HEADS + 1)
                .all(|empty| empty)
        );
        assert!(l.is_empty());
    }

    /// Segments given back are taken by the next lines, of this child or
    /// another; past the allowance, and segments made for one long line,
    /// go back to the allocator.
    #[test]
    fn spare_segments_are_reused_and_bounded() {
        let mut spare = Spare::default();
        let line = [b'y'; 1000];
        let mut a = Lines::default();
        for _ in 0..(4 * LINE_BUFFER / line.len()) {
            a.push(&mut spare, Stream::Stdout, &line, false);
        }
        a.push(&mut spare, Stream::Stdout, &[b'z'; 2 * SEGMENT], false);
        a.clear(&mut spare);
        assert_eq!(spare.0.len(), SPARE_SEGMENTS);
        assert!(spare
            .0
            .iter()
            .all(|s| s.bytes.capacity() == SEGMENT && s.bytes.is_empty() && s.heads.is_empty()));
        let mut b = Lines::default();
        b.push(&mut spare, Stream::Stderr, b"next", true);
        assert_eq!(spare.0.len(), SPARE_SEGMENTS - 1);
        assert_eq!(
            b.rest().collect::<Vec<_>>(),
            [(Stream::Stderr, &b"next"[..], true)]
        );
        b.free(&mut spare);
        assert_eq!(spare.0.len(), SPARE_SEGMENTS);
        assert!(b.is_empty());
    }
}
