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

/// A child's lines stored together: each line's bytes after a header
/// (its length and flags), one after the other, in segments of
/// [`SEGMENT`] bytes that a driver recycles ([`Spare`]).
///
/// The pump appends each line the reactor lends to the child's slot; the
/// handle swaps them out in one take (`Slot::take_lines`), hands them
/// out one by one without the lock, and gives the segments back at its
/// next take. A line so costs a copy into memory that is reused, where a
/// `Vec` of its own cost an allocation in the pump and a free in the task
/// (thousands made, then thousands freed: a pattern that overflows the
/// allocator's per-thread caches), and one growing buffer per child cost
/// its growth (copies, and fresh pages the allocator had given back).
///
/// Boxed, and made by the first line: a thousand idle children hold a
/// thousand of these in their slots and as many in their handles.
#[derive(Debug, Default)]
pub(super) struct Lines(Option<Box<Batch>>);

#[derive(Debug, Default)]
struct Batch {
    segments: Vec<Vec<u8>>,
    /// The segment of the next line to hand out (those before it are
    /// handed out, and wait for a take to give them back), and where in
    /// it the line starts.
    seg: usize,
    at: usize,
    /// What its lines count toward [`LINE_BUFFER`].
    held: usize,
}

/// Bytes of a segment: below the size for which glibc's allocator makes a
/// mapping of its own (128 KiB at first), so a segment freed goes back to
/// its heap, not unmapped and faulted in again when the next is made. A
/// line longer than this gets a segment of its own size.
const SEGMENT: usize = 64 * 1024;
/// A line's header: its length, with its stream and partial flag in the
/// two top bits.
const HEADER: usize = 8;
const STDERR_BIT: u64 = 1 << 63;
const PARTIAL_BIT: u64 = 1 << 62;

/// Emptied segments a driver keeps for the next lines of any child: a
/// handle gives its segments back here, and the next lines filed take
/// them, so memory in use follows what waits (and 1 MiB at most stays
/// spare once the lines stop).
#[derive(Debug, Default)]
pub(super) struct Spare(Vec<Vec<u8>>);

const SPARE_SEGMENTS: usize = LINE_BUFFER / SEGMENT;

impl Spare {
    fn take(&mut self, need: usize) -> Vec<u8> {
        if need <= SEGMENT {
            if let Some(seg) = self.0.pop() {
                return seg;
            }
        }
        Vec::with_capacity(need.max(SEGMENT))
    }

    fn give(&mut self, mut seg: Vec<u8>) {
        if seg.capacity() == SEGMENT && self.0.len() < SPARE_SEGMENTS {
            seg.clear();
            self.0.push(seg);
        }
    }
}

impl Lines {
    #[inline]
    pub(super) fn push(&mut self, spare: &mut Spare, stream: Stream, line: &[u8], partial: bool) {
        let b = self.0.get_or_insert_with(Box::default);
        let need = HEADER + line.len();
        if !matches!(b.segments.last(), Some(seg) if seg.capacity() - seg.len() >= need) {
            b.segments.push(spare.take(need));
        }
        let seg = b.segments.last_mut().expect("a segment with room");
        let mut head = line.len() as u64;
        if stream == Stream::Stderr {
            head |= STDERR_BIT;
        }
        if partial {
            head |= PARTIAL_BIT;
        }
        seg.extend_from_slice(&head.to_ne_bytes());
        seg.extend_from_slice(line);
        b.held += held(line);
    }

    /// Whether every line was handed out.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        // Every segment holds a line, so only the last can be the end.
        self.0.as_ref().map_or(true, |b| {
            b.seg >= b.segments.len()
                || (b.seg + 1 == b.segments.len() && b.at == b.segments[b.seg].len())
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
        while b.at == b.segments.get(b.seg)?.len() {
            b.seg += 1;
            b.at = 0;
        }
        let (line, next) = record(&b.segments[b.seg], b.at);
        b.at = next;
        Some(line)
    }

    /// Lends the lines not handed out yet, each handed out as the batch
    /// gives it.
    pub(super) fn lend(&mut self) -> LineBatch<'_> {
        match self.0.as_deref_mut() {
            Some(Batch {
                segments, seg, at, ..
            }) => LineBatch {
                segments,
                next: Some((seg, at)),
            },
            None => LineBatch {
                segments: &[],
                next: None,
            },
        }
    }

    /// The lines not handed out yet, without handing them out.
    pub(super) fn rest(&self) -> impl Iterator<Item = (Stream, &[u8], bool)> + '_ {
        let (segments, mut seg, mut at) = self
            .0
            .as_deref()
            .map_or((&[][..], 0, 0), |b| (&b.segments[..], b.seg, b.at));
        std::iter::from_fn(move || loop {
            let s = segments.get(seg)?;
            if at < s.len() {
                let (line, next) = record(s, at);
                at = next;
                return Some((line.stream, line.bytes, line.partial));
            }
            seg += 1;
            at = 0;
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
            b.seg = 0;
            b.at = 0;
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
    segments: &'a [Vec<u8>],
    /// The handle's cursor: the segment and the place in it of the next
    /// line.
    next: Option<(&'a mut usize, &'a mut usize)>,
}

impl<'a> Iterator for LineBatch<'a> {
    type Item = LineRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<LineRef<'a>> {
        let (seg, at) = self.next.as_mut()?;
        loop {
            let s: &'a Vec<u8> = self.segments.get(**seg)?;
            if **at < s.len() {
                let (line, next) = record(s, **at);
                **at = next;
                return Some(line);
            }
            **seg += 1;
            **at = 0;
        }
    }
}

/// The line whose header starts at `at` in `seg`, and where the next one
/// starts.
#[inline]
fn record(seg: &[u8], at: usize) -> (LineRef<'_>, usize) {
    let mut head = [0; HEADER];
    head.copy_from_slice(&seg[at..at + HEADER]);
    let head = u64::from_ne_bytes(head);
    let len = (head & !(STDERR_BIT | PARTIAL_BIT)) as usize;
    let start = at + HEADER;
    let stream = if head & STDERR_BIT != 0 {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    let line = LineRef {
        stream,
        bytes: &seg[start..start + len],
        partial: head & PARTIAL_BIT != 0,
    };
    (line, start + len)
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
            .all(|s| s.capacity() == SEGMENT && s.is_empty()));
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
